// Package webhook delivers bus events to operators' HTTP endpoints: the
// body DECNET signs, the HMAC signature, the SSRF guard that keeps a
// subscription from reaching the honeypot's own network, and retries.
//
// It knows nothing of the bus or the store: a caller hands it a
// subscription's URL and secret and one message, and gets back what
// happened. Subscriptions themselves are rows of store.Webhook, managed by
// the API (spec/data-api.md §3.9; delivery contract spec/intel.md §9).
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// UserAgent is sent with every delivery.
const UserAgent = "decnet-webhook/1.0"

// Header names of a delivery.
const (
	HeaderSignature = "X-DECNET-Signature"
	HeaderEventID   = "X-DECNET-Event-Id"
	HeaderTopic     = "X-DECNET-Event-Topic"
	HeaderTimestamp = "X-DECNET-Timestamp"
)

// Presets are the dashboard's "simple events", each a set of topic patterns
// (spec/intel.md §1.5).
var Presets = map[string][]string{
	"AttackerDetail": {"attacker.>"},
	"DeckyStatus":    {"decky.*.state", "decky.*.traffic"},
	"SystemStatus":   {"system.>"},
}

// PresetNames lists Presets in a stable order.
var PresetNames = []string{"AttackerDetail", "DeckyStatus", "SystemStatus"}

// ErrForbiddenURL is returned for a URL that is not http(s) or that points
// at a private, loopback, link-local or metadata address while private
// targets are not allowed.
var ErrForbiddenURL = errors.New("webhook: forbidden url")

// Message is one event to deliver.
type Message struct {
	ID      string    // unique per event; the receiver's idempotency key
	TS      time.Time // when it happened
	Topic   string    // bus subject, e.g. "attacker.scored"
	Type    string    // event type within the topic
	Payload any       // JSON-encodable
}

// Body is the JSON a receiver gets: {v:1, id, ts, topic, type, payload}
// with sorted keys.
func (m Message) Body() ([]byte, error) {
	return json.Marshal(map[string]any{ // maps encode with sorted keys
		"v": 1, "id": m.ID, "ts": m.TS.UTC().Format(time.RFC3339Nano), "topic": m.Topic, "type": m.Type, "payload": m.Payload,
	})
}

// Sign is the X-DECNET-Signature value of body under secret:
// "sha256=" and the hex HMAC-SHA256.
func Sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// NewSecret returns a random signing secret (43 URL-safe characters).
func NewSecret() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	b := make([]byte, 43)
	for i := range b {
		n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		b[i] = alphabet[n.Int64()]
	}
	return string(b)
}

// CheckURL reports whether raw may be a subscription URL: http or https,
// a host, no user info, and — unless allowPrivate — a host that is not a
// literal private, loopback, link-local or metadata address or "localhost".
// Host names are checked again at dial time, when they resolve.
func CheckURL(raw string, allowPrivate bool) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Hostname() == "" {
		return fmt.Errorf("%w: must be an http:// or https:// URL with a host", ErrForbiddenURL)
	}
	if u.User != nil {
		return fmt.Errorf("%w: must not carry credentials", ErrForbiddenURL)
	}
	if allowPrivate {
		return nil
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") || host == "metadata.google.internal" {
		return fmt.Errorf("%w: %s is a local name", ErrForbiddenURL, host)
	}
	if ip, err := netip.ParseAddr(host); err == nil && !Public(ip) {
		return fmt.Errorf("%w: %s is not a public address", ErrForbiddenURL, ip)
	}
	return nil
}

// Public reports whether ip is a global unicast address outside the
// private, shared (CGNAT), loopback, link-local and documentation ranges.
func Public(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsGlobalUnicast() || ip.IsPrivate() || ip.IsLoopback() || ip.IsLinkLocalUnicast() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"), // shared address space
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b::/96"), // NAT64 can reach private IPv4
	netip.MustParsePrefix("2001:db8::/32"),
}

// Sender posts messages. The zero value is not usable; use NewSender.
type Sender struct {
	client  *http.Client
	backoff []time.Duration // waits before the retries
}

// NewSender returns a Sender whose connections go only to public addresses
// unless allowPrivate. The check runs on the address actually dialled, so
// a name that resolves (or re-resolves) to a private address is refused.
func NewSender(allowPrivate bool, timeout time.Duration) *Sender {
	d := &net.Dialer{Timeout: timeout}
	if !allowPrivate {
		d.Control = func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil || !Public(ap.Addr()) {
				return fmt.Errorf("%w: %s is not a public address", ErrForbiddenURL, address)
			}
			return nil
		}
	}
	tr := &http.Transport{DialContext: d.DialContext, TLSHandshakeTimeout: timeout, MaxIdleConnsPerHost: 2,
		IdleConnTimeout: 90 * time.Second, ResponseHeaderTimeout: timeout}
	return &Sender{
		client: &http.Client{Transport: tr, Timeout: timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		backoff: []time.Duration{time.Second, 2 * time.Second, 4 * time.Second},
	}
}

// SetBackoff replaces the waits between attempts (tests shorten them).
func (s *Sender) SetBackoff(waits ...time.Duration) { s.backoff = waits }

// Result is the outcome of a delivery.
type Result struct {
	Delivered  bool   `json:"delivered"`
	StatusCode int    `json:"status_code"` // of the last attempt; 0 when no response came
	Error      string `json:"error"`       // why it failed; empty when delivered
	Attempts   int    `json:"-"`
	final      bool   // a retry cannot help (the target is forbidden)
}

// Send posts m once to rawURL, signed with secret. A 2xx is delivered.
func (s *Sender) Send(ctx context.Context, rawURL, secret string, m Message) Result {
	body, err := m.Body()
	if err != nil {
		return Result{Error: "encode: " + err.Error()}
	}
	return s.post(ctx, rawURL, secret, m, body)
}

// Deliver posts m like Send, retrying after the backoff waits (×0.8–1.2
// jitter) on network errors, 5xx and 429. Other 4xx are final.
func (s *Sender) Deliver(ctx context.Context, rawURL, secret string, m Message) Result {
	body, err := m.Body()
	if err != nil {
		return Result{Error: "encode: " + err.Error()}
	}
	var res Result
	for attempt := 0; ; attempt++ {
		res = s.post(ctx, rawURL, secret, m, body)
		res.Attempts = attempt + 1
		if res.Delivered || !retryable(res) || attempt >= len(s.backoff) {
			return res
		}
		j, _ := rand.Int(rand.Reader, big.NewInt(401))
		wait := s.backoff[attempt] * time.Duration(800+j.Int64()) / 1000
		select {
		case <-ctx.Done():
			res.Error = ctx.Err().Error()
			return res
		case <-time.After(wait):
		}
	}
}

func retryable(r Result) bool {
	if r.final {
		return false
	}
	return r.StatusCode == 0 || r.StatusCode >= 500 || r.StatusCode == http.StatusTooManyRequests
}

func (s *Sender) post(ctx context.Context, rawURL, secret string, m Message, body []byte) Result {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, bytes.NewReader(body))
	if err != nil {
		return Result{Error: "request: " + err.Error()}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", UserAgent)
	req.Header.Set(HeaderSignature, Sign(secret, body))
	req.Header.Set(HeaderEventID, m.ID)
	req.Header.Set(HeaderTopic, m.Topic)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(m.TS.Unix(), 10))
	resp, err := s.client.Do(req)
	if err != nil {
		return Result{Error: err.Error(), final: errors.Is(err, ErrForbiddenURL)}
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 == 2 {
		return Result{Delivered: true, StatusCode: resp.StatusCode}
	}
	return Result{StatusCode: resp.StatusCode, Error: "HTTP " + resp.Status}
}
