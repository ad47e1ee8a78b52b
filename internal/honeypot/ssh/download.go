package ssh

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/netip"
	"strconv"
	"syscall"
	"time"

	"github.com/decnet-go/decnet/internal/honeypot"
	"github.com/decnet-go/decnet/internal/honeypot/shell"
)

// Download capture: wget, curl and tftp in the shell report every URL as a
// download_attempt event. Only when the operator sets downloads=true does
// the decky fetch it (http and https, to public addresses only), keeping
// the payload as an artifact and emitting file_captured; otherwise the
// tool fails as it would on a machine without a route out.

const (
	typeDownload = "download_attempt" // wget/curl/tftp in the shell
	typeFileSent = "file_sent"        // a file served through scp or sftp

	defaultDownloadMax = 10 << 20
	downloadTimeout    = 30 * time.Second
	maxRedirects       = 5
)

// allowPrivateFetch lets tests fetch from a loopback server; in service
// the decky never fetches from loopback, private or link-local addresses,
// so an attacker cannot use it to reach the operator's own network.
var allowPrivateFetch = false

// fetcher fetches URLs for the shell's download tools.
type fetcher struct {
	enabled bool
	max     int64
	client  *http.Client
}

func newFetcher(cfg map[string]string) (*fetcher, error) {
	f := &fetcher{max: defaultDownloadMax}
	if v, ok := cfg["downloads"]; ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf(`ssh config: key "downloads": %q is not true or false`, v)
		}
		f.enabled = b
	}
	if v, ok := cfg["download_max_bytes"]; ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 || n > honeypot.DefaultMaxArtifact {
			return nil, fmt.Errorf(`ssh config: key "download_max_bytes": %q must be between 1 and %d`, v, honeypot.DefaultMaxArtifact)
		}
		f.max = n
	}
	if !f.enabled {
		return f, nil
	}
	dialer := &net.Dialer{Timeout: 10 * time.Second, Control: func(_, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return err
		}
		if a := ap.Addr().Unmap(); !allowPrivateFetch && !publicAddr(a) {
			return fmt.Errorf("refusing to fetch from non-public address %s", a)
		}
		return nil
	}}
	f.client = &http.Client{
		Timeout: downloadTimeout,
		Transport: &http.Transport{
			Proxy:                  nil,
			DialContext:            dialer.DialContext,
			TLSClientConfig:        &tls.Config{InsecureSkipVerify: true}, // payload hosts are rarely trusted; we keep, never run
			TLSHandshakeTimeout:    10 * time.Second,
			DisableKeepAlives:      true,
			DisableCompression:     true,
			MaxResponseHeaderBytes: 64 << 10,
		},
		CheckRedirect: func(_ *http.Request, via []*http.Request) error {
			if len(via) >= maxRedirects {
				return errors.New("too many redirects")
			}
			return nil
		},
	}
	return f, nil
}

// publicAddr reports whether a is a globally routable unicast address.
func publicAddr(a netip.Addr) bool {
	return a.IsGlobalUnicast() && !a.IsPrivate() && !a.IsLoopback() && !a.IsLinkLocalUnicast() &&
		!netip.MustParsePrefix("100.64.0.0/10").Contains(a) // carrier-grade NAT
}

// toolVersions are the wget and curl of each persona distribution, for the
// User-Agent a payload server sees.
var toolVersions = map[string][2]string{
	"debian": {"1.21.3", "7.88.1"}, "debian11": {"1.21", "7.74.0"}, "ubuntu22": {"1.21.2", "7.81.0"},
	"ubuntu20": {"1.20.3", "7.68.0"}, "rocky9": {"1.21.1", "7.76.1"}, "centos7": {"1.14", "7.29.0"},
	"fedora": {"1.21.4", "8.2.1"}, "kali": {"1.24.5", "8.11.1"}, "alpine": {"1.21.4", "8.5.0"}, "arch": {"1.24.5", "8.11.1"},
}

// fetch gets u as tool would, keeping at most f.max bytes of the body.
func (f *fetcher) fetch(ctx context.Context, u, tool, distro string) (shell.Fetched, error) {
	ctx, cancel := context.WithTimeout(ctx, downloadTimeout)
	defer cancel()
	var remote string
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GotConn: func(ci httptrace.GotConnInfo) {
		if ap, err := netip.ParseAddrPort(ci.Conn.RemoteAddr().String()); err == nil {
			remote = ap.Addr().Unmap().String()
		}
	}})
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return shell.Fetched{}, err
	}
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
		return shell.Fetched{}, fmt.Errorf("scheme %q is not fetched", req.URL.Scheme)
	}
	v, ok := toolVersions[distro]
	if !ok {
		v = toolVersions["debian"]
	}
	if tool == "curl" {
		req.Header.Set("User-Agent", "curl/"+v[1])
	} else {
		req.Header.Set("User-Agent", "Wget/"+v[0])
		req.Header.Set("Accept-Encoding", "identity")
	}
	req.Header.Set("Accept", "*/*")
	resp, err := f.client.Do(req)
	if err != nil {
		return shell.Fetched{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, f.max))
	if err != nil && len(body) == 0 {
		return shell.Fetched{}, err
	}
	return shell.Fetched{Status: resp.StatusCode, ContentType: resp.Header.Get("Content-Type"), Body: body, RemoteIP: remote}, nil
}
