package intel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"time"

	"golang.org/x/time/rate"
)

// ProviderConfig is what every network provider needs. The zero value of each
// field means the documented default.
type ProviderConfig struct {
	// BaseURL overrides the provider's public endpoint (tests point it at a
	// loopback server; operators at a proxy).
	BaseURL string
	// APIKey is the provider's key or abuse.ch Auth-Key. Empty disables the
	// providers that require one.
	APIKey string
	// Timeout bounds one request, connection to last byte (default 10 s).
	Timeout time.Duration
	// MaxBodyBytes caps a response body (per-provider default).
	MaxBodyBytes int64
	// RatePerMinute is the sustained request rate (per-provider default);
	// negative means unlimited.
	RatePerMinute float64
	// Burst is the number of requests allowed at once (default 1).
	Burst int
	// UserAgent is sent on every request (default "curl/7.88.1").
	UserAgent string
	// Client is the HTTP client to use; nil builds one with Timeout and no
	// redirects.
	Client *http.Client
	// Now is the clock (default time.Now); tests inject a fake one.
	Now func() time.Time
	// Logger receives warnings (default slog.Default()).
	Logger *slog.Logger
}

const defaultUserAgent = "curl/7.88.1"

// endpoint is one provider's egress: a client without redirects, a body cap
// and a rate limiter.
type endpoint struct {
	name    string
	base    string
	key     string
	ua      string
	client  *http.Client
	limiter *rate.Limiter
	maxBody int64
	now     func() time.Time
	log     *slog.Logger
}

func newEndpoint(name, defaultBase string, defaultMaxBody int64, defaultRPM float64, c ProviderConfig) *endpoint {
	e := &endpoint{
		name:    name,
		base:    strings.TrimSpace(c.BaseURL),
		key:     strings.TrimSpace(c.APIKey),
		ua:      c.UserAgent,
		client:  c.Client,
		maxBody: c.MaxBodyBytes,
		now:     c.Now,
		log:     c.Logger,
	}
	if e.base == "" {
		e.base = defaultBase
	}
	if e.ua == "" {
		e.ua = defaultUserAgent
	}
	if e.maxBody <= 0 {
		e.maxBody = defaultMaxBody
	}
	if e.now == nil {
		e.now = time.Now
	}
	if e.log == nil {
		e.log = slog.Default()
	}
	e.log = e.log.With("provider", name)
	if e.client == nil {
		timeout := c.Timeout
		if timeout <= 0 {
			timeout = 10 * time.Second
		}
		e.client = &http.Client{
			Timeout: timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		}
	}
	rpm := c.RatePerMinute
	if rpm == 0 {
		rpm = defaultRPM
	}
	burst := c.Burst
	if burst <= 0 {
		burst = 1
	}
	if rpm < 0 || math.IsInf(rpm, 1) {
		e.limiter = rate.NewLimiter(rate.Inf, burst)
	} else {
		e.limiter = rate.NewLimiter(rate.Limit(rpm/60), burst)
	}
	return e
}

// do sends req after the rate limiter allows it and returns the status and
// the body, read up to the cap. Redirects are returned as their 3xx status.
func (e *endpoint) do(ctx context.Context, req *http.Request) (int, []byte, error) {
	if err := e.limiter.Wait(ctx); err != nil {
		return 0, nil, fmt.Errorf("%s: %w: %v", e.name, ErrRateLimited, err)
	}
	req = req.WithContext(ctx)
	req.Header.Set("User-Agent", e.ua)
	resp, err := e.client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%s: %w", e.name, err)
	}
	defer resp.Body.Close()
	body, err := readCapped(resp.Body, e.maxBody)
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("%s: %w", e.name, err)
	}
	return resp.StatusCode, body, nil
}

// stream sends req and returns the open response for bulk feeds; the caller
// closes it and caps what it reads.
func (e *endpoint) stream(ctx context.Context, req *http.Request) (*http.Response, error) {
	if err := e.limiter.Wait(ctx); err != nil {
		return nil, fmt.Errorf("%s: %w: %v", e.name, ErrRateLimited, err)
	}
	req = req.WithContext(ctx)
	req.Header.Set("User-Agent", e.ua)
	resp, err := e.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", e.name, err)
	}
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		return nil, e.statusErr(resp.StatusCode)
	}
	return resp, nil
}

// fetchFeed downloads a bulk feed (a GET of the endpoint's base URL, with
// its Auth-Key when it has one) and parses it.
func fetchFeed[T any](ctx context.Context, e *endpoint, parse func([]byte) (T, error)) (T, error) {
	var zero T
	req, err := http.NewRequest(http.MethodGet, e.base, nil)
	if err != nil {
		return zero, fmt.Errorf("%s: %w", e.name, err)
	}
	if e.key != "" {
		req.Header.Set("Auth-Key", e.key)
	}
	status, body, err := e.do(ctx, req)
	if err != nil {
		return zero, err
	}
	if status != http.StatusOK {
		return zero, e.statusErr(status)
	}
	v, err := parse(body)
	if err != nil {
		return zero, fmt.Errorf("%s: %w", e.name, err)
	}
	return v, nil
}

func (e *endpoint) statusErr(status int) error {
	se := &StatusError{Provider: e.name, Status: status}
	if status == http.StatusTooManyRequests {
		return fmt.Errorf("%w: %w", ErrRateLimited, se)
	}
	return se
}

// readCapped reads all of r, failing with ErrBodyTooLarge past max bytes.
func readCapped(r io.Reader, max int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%w (over %d bytes)", ErrBodyTooLarge, max)
	}
	return b, nil
}

// cappedReader fails with ErrBodyTooLarge once more than n bytes were read,
// rather than ending silently like io.LimitReader (a truncated feed must not
// pass for a short one).
type cappedReader struct {
	r io.Reader
	n int64
}

func (c *cappedReader) Read(p []byte) (int, error) {
	if c.n < 0 {
		return 0, ErrBodyTooLarge
	}
	if int64(len(p)) > c.n+1 {
		p = p[:c.n+1]
	}
	n, err := c.r.Read(p)
	c.n -= int64(n)
	if c.n < 0 {
		return n, ErrBodyTooLarge
	}
	return n, err
}

var errNoData = errors.New("no usable records")
