package canary

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/decnet-go/decnet/internal/event"
)

// Listener detects uses of tokens: callback fetches (Handler), host name
// lookups (ServeDNS) and planted cloud keys in attacker traffic
// (ScanEvent). A use of a planted token is recorded, emitted as events
// and published; anything else gets the same answer and leaves no trace.
type Listener struct {
	Tokens  Tokens
	Sink    Sink
	Revoker interface {
		Revoke(ctx context.Context, tok Token, reason string) error
	}
	// DNSZone is the zone the DNS listener is authoritative for.
	DNSZone string
	// Geo maps an address to its ISO country (optional; without it
	// tz_mismatch is not computed and lang_mismatch compares with the
	// request's Accept-Language).
	Geo func(ip string) (country string, ok bool)
	Log *slog.Logger
	Now func() time.Time // nil = time.Now

	once sync.Once
	mu   sync.Mutex
	// rate is layer D: accepted fingerprints per (token, address) in the
	// current 60 s window.
	rate map[string]*rateWindow
	// chunks are beacon sessions being reassembled.
	chunks     map[string]*chunkSet
	chunkBytes int
	// revoking remembers fingerprint tokens already handed to the Revoker,
	// so concurrent beacons revoke once.
	revoking map[string]bool
	// dnsSeen de-duplicates one lookup's several queries (A, AAAA, the
	// resolver's retries) into one trigger.
	dnsSeen map[string]time.Time
	dnsWG   sync.WaitGroup
}

// Reassembly and rate bounds.
const (
	chunkTTL          = 60 * time.Second
	maxChunkSessions  = 256
	maxChunkBytes     = 4 << 20
	rateWindowLen     = 60 * time.Second
	rateLimit         = 30
	maxRateEntries    = 8192
	maxRawHeaders     = 32
	maxHeaderValueLen = 256
	maxRequestPathLen = 512
	storeTimeout      = 5 * time.Second
)

type rateWindow struct {
	start time.Time
	n     int
}

type chunkSet struct {
	tok     Token
	n       int
	parts   []string
	have    int
	size    int
	first   time.Time
	srcIP   string
	ua      string
	path    string
	headers map[string]string
	lang    string
}

func (l *Listener) init() {
	l.once.Do(func() {
		l.rate = map[string]*rateWindow{}
		l.chunks = map[string]*chunkSet{}
		l.revoking = map[string]bool{}
		l.dnsSeen = map[string]time.Time{}
	})
}

func (l *Listener) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

func (l *Listener) log() *slog.Logger {
	if l.Log != nil {
		return l.Log
	}
	return slog.Default()
}

// emptyGIF is nginx's empty_gif: the 43-byte transparent 1x1 GIF.
var emptyGIF = []byte{
	'G', 'I', 'F', '8', '9', 'a', 0x01, 0x00, 0x01, 0x00, 0x80, 0x01, 0x00, 0x00, 0x00, 0x00,
	0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x01, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
	0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x4c, 0x01, 0x00, 0x3b,
}

// nginxPage is nginx's built-in error page (server_tokens off), CRLF and
// all, so an unknown path looks like any nginx.
func nginxPage(status string) string {
	return "<html>\r\n<head><title>" + status + "</title></head>\r\n<body>\r\n<center><h1>" + status +
		"</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
}

var nginxStatus = map[int]string{404: "404 Not Found", 405: "405 Not Allowed", 500: "500 Internal Server Error"}

func nginxError(w http.ResponseWriter, r *http.Request, code int) {
	body := nginxPage(nginxStatus[code])
	h := w.Header()
	h.Set("Server", "nginx")
	h.Set("Content-Type", "text/html")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Connection", "keep-alive")
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		_, _ = w.Write([]byte(body))
	}
}

// nginx405 answers "405 Not Allowed" as nginx does. net/http can only
// write the standard reason phrase ("Method Not Allowed"), a tell, so the
// answer is written on the hijacked connection, which is then closed (as
// nginx closes a keep-alive connection at its timeout). Without a
// hijackable connection (HTTP/2, tests) the standard path is used.
func nginx405(w http.ResponseWriter, r *http.Request) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		nginxError(w, r, http.StatusMethodNotAllowed)
		return
	}
	// Drain a small body first: closing with unread data would reset the
	// connection before the client reads the answer.
	_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 64<<10))
	conn, rw, err := hj.Hijack()
	if err != nil {
		nginxError(w, r, http.StatusMethodNotAllowed)
		return
	}
	defer conn.Close()
	_ = conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	body := nginxPage(nginxStatus[http.StatusMethodNotAllowed])
	_, _ = fmt.Fprintf(rw, "HTTP/1.1 405 Not Allowed\r\nServer: nginx\r\nDate: %s\r\nContent-Type: text/html\r\nContent-Length: %d\r\nConnection: keep-alive\r\n\r\n",
		time.Now().UTC().Format(http.TimeFormat), len(body))
	if r.Method != http.MethodHead {
		_, _ = rw.WriteString(body)
	}
	_ = rw.Flush()
	if tc, ok := conn.(interface{ CloseWrite() error }); ok {
		_ = tc.CloseWrite()
	}
}

func writeGIF(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Server", "nginx")
	h.Set("Content-Type", "image/gif")
	h.Set("Content-Length", strconv.Itoa(len(emptyGIF)))
	h.Set("Last-Modified", "Mon, 28 Sep 1970 06:00:00 GMT") // what empty_gif sends
	h.Set("Connection", "keep-alive")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(emptyGIF)
	}
}

// Handler serves the HTTP callback: GET/HEAD /c/<slug>[/…] answers the
// 1x1 GIF for every slug, known or not; everything else is nginx's 404
// (or 405 for another method on a callback path).
func (l *Listener) Handler() http.Handler {
	l.init()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				l.log().Error("canary: http handler panic", "service", Service, "src_ip", r.RemoteAddr, "panic", v)
				nginxError(w, r, 500)
			}
		}()
		slug, ok := callbackSlug(r.URL.Path)
		get := r.Method == http.MethodGet || r.Method == http.MethodHead
		switch {
		case !ok && (get || r.Method == http.MethodPost):
			// nginx's static module: no such file (POST included).
			nginxError(w, r, http.StatusNotFound)
			return
		case !ok || !get:
			// Other methods on any path, and anything but GET/HEAD on
			// the empty_gif location.
			nginx405(w, r)
			return
		}
		if validSlug(slug) {
			// The client gets its GIF whatever the store does; the store
			// calls must not outlive a slow store by much either.
			ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), storeTimeout)
			l.hit(ctx, r, slug)
			cancel()
		}
		writeGIF(w, r)
	})
}

// callbackSlug extracts the slug of /c/<slug> or /c/<slug>/<more> (git
// asks for /c/<slug>/<repo>.git/info/refs).
func callbackSlug(p string) (string, bool) {
	rest, ok := strings.CutPrefix(p, "/c/")
	if !ok {
		return "", false
	}
	slug, _, _ := strings.Cut(rest, "/")
	if slug == "" {
		return "", false
	}
	return strings.ToLower(slug), true
}

// clientIP is the leftmost X-Forwarded-For entry when it is an address (a
// reverse proxy in front of the listener), else the peer.
func clientIP(r *http.Request) string {
	if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
		first, _, _ := strings.Cut(xff, ",")
		if a, err := netip.ParseAddr(strings.TrimSpace(first)); err == nil {
			return a.Unmap().String()
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return a.Unmap().String()
	}
	return host
}

// rawHeaders copies a bounded set of request headers for the trigger row.
func rawHeaders(h http.Header) map[string]string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make(map[string]string, min(len(keys), maxRawHeaders)+2)
	for _, k := range keys {
		if len(out) >= maxRawHeaders {
			break
		}
		if strings.HasPrefix(k, "_") {
			continue // our flags start with _: a client must not forge them
		}
		out[truncate(k, 64)] = truncate(strings.Join(h[k], ", "), maxHeaderValueLen)
	}
	return out
}

// plantedToken is the planted token of slug; ok is false for an unknown or
// revoked slug (nothing is recorded for those) and a failed lookup.
func (l *Listener) plantedToken(ctx context.Context, slug string) (tok Token, ok bool) {
	tok, found, err := l.Tokens.TokenBySlug(ctx, slug)
	if err != nil {
		l.log().Warn("canary: token lookup", "service", Service, "err", err)
		return tok, false
	}
	return tok, found && tok.State == StatePlanted
}

// hit handles one callback fetch of a syntactically valid slug.
func (l *Listener) hit(ctx context.Context, r *http.Request, slug string) {
	tok, ok := l.plantedToken(ctx, slug)
	if !ok {
		return
	}
	q, _ := url.ParseQuery(r.URL.RawQuery) // a malformed query keeps what parsed
	src := clientIP(r)
	tr := Trigger{
		Via:         "http",
		SrcIP:       src,
		UserAgent:   truncate(r.UserAgent(), maxHeaderValueLen),
		RequestPath: truncate(r.URL.RequestURI(), maxRequestPathLen),
		RawHeaders:  rawHeaders(r.Header),
	}
	lang := r.Header.Get("Accept-Language")
	switch {
	case q.Has("s"):
		l.chunk(ctx, tok, q, tr, lang)
		return
	case q.Has("d"):
		l.beacon(ctx, tok, tr, q.Get("d"), maxSingleData, q.Get("k"), q.Get("mint"), lang)
		return
	case q.Get("o") == "1":
		tr.RawHeaders[flagOpen] = "1"
	}
	l.fire(ctx, tok, tr)
}

// beacon validates a complete fingerprint payload and records the trigger
// either way; a failed layer leaves Fingerprint nil and its flag set.
func (l *Listener) beacon(ctx context.Context, tok Token, tr Trigger, d string, limit int, qk, qmint, lang string) {
	m, err := decodeBeacon(d, limit)
	if err != nil {
		tr.RawHeaders[flagDecode] = "1"
		l.fire(ctx, tok, tr)
		return
	}
	flag, fp := validateBeacon(tok, m, qk, qmint)
	if flag == "" && !l.allow(tok.UUID, tr.SrcIP) {
		flag = flagRate
	}
	if flag != "" {
		tr.RawHeaders[flag] = "1"
		l.fire(ctx, tok, tr)
		return
	}
	tr.Fingerprint = fp
	tr.Metrics = deriveMetrics(fp, metricInput{UserAgent: tr.UserAgent, AcceptLanguage: lang, SrcIP: tr.SrcIP, Geo: l.Geo})
	l.fire(ctx, tok, tr)
}

// allow counts one accepted fingerprint against layer D's limit.
func (l *Listener) allow(token, ip string) bool {
	now := l.now()
	key := token + "|" + ip
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.rate[key]
	if w == nil || now.Sub(w.start) >= rateWindowLen {
		if w == nil && len(l.rate) >= maxRateEntries {
			for k, v := range l.rate {
				if now.Sub(v.start) >= rateWindowLen {
					delete(l.rate, k)
				}
			}
			if len(l.rate) >= maxRateEntries {
				return false // a flood of distinct sources: refuse rather than grow
			}
		}
		w = &rateWindow{start: now}
		l.rate[key] = w
	}
	if w.n >= rateLimit {
		return false
	}
	w.n++
	return true
}

// chunk adds one s/i/n/d piece. Pieces are held (bounded, 60 s) until the
// session is complete, which records one trigger for the whole beacon;
// a malformed piece records a flagged trigger at once.
func (l *Listener) chunk(ctx context.Context, tok Token, q url.Values, tr Trigger, lang string) {
	sid, d := q.Get("s"), q.Get("d")
	i, errI := strconv.Atoi(q.Get("i"))
	n, errN := strconv.Atoi(q.Get("n"))
	if errI != nil || errN != nil || !validSessionID(sid) || n < 1 || n > maxChunks || i < 0 || i >= n || d == "" || len(d) > maxChunkData {
		tr.RawHeaders[flagChunk] = "1"
		l.fire(ctx, tok, tr)
		return
	}
	now := l.now()
	key := tok.UUID + "|" + tr.SrcIP + "|" + sid
	var expired []*chunkSet
	var done *chunkSet
	flag := ""
	l.mu.Lock()
	for k, cs := range l.chunks {
		if now.Sub(cs.first) >= chunkTTL {
			delete(l.chunks, k)
			l.chunkBytes -= cs.size
			expired = append(expired, cs)
		}
	}
	cs := l.chunks[key]
	switch {
	case cs == nil && (len(l.chunks) >= maxChunkSessions || l.chunkBytes+len(d) > maxChunkBytes):
		flag = flagOverflow
	case cs == nil:
		cs = &chunkSet{tok: tok, n: n, parts: make([]string, n), first: now, srcIP: tr.SrcIP, ua: tr.UserAgent,
			path: tr.RequestPath, headers: tr.RawHeaders, lang: lang}
		l.chunks[key] = cs
		fallthrough
	default:
		if cs.n != n {
			flag = flagChunk
			break
		}
		if l.chunkBytes+len(d) > maxChunkBytes {
			flag = flagOverflow
			break
		}
		if cs.parts[i] == "" {
			cs.parts[i] = d
			cs.have++
			cs.size += len(d)
			l.chunkBytes += len(d)
		}
		if cs.have == cs.n {
			delete(l.chunks, key)
			l.chunkBytes -= cs.size
			done = cs
		}
	}
	l.mu.Unlock()

	for _, cs := range expired {
		// Never drop a trigger: a session that never completed still says
		// the page was opened.
		cs.headers[flagIncompl] = "1"
		l.fire(ctx, cs.tok, Trigger{Via: "http", SrcIP: cs.srcIP, UserAgent: cs.ua, RequestPath: cs.path, RawHeaders: cs.headers})
	}
	if flag != "" {
		tr.RawHeaders[flag] = "1"
		l.fire(ctx, tok, tr)
		return
	}
	if done != nil {
		tr.RawHeaders = done.headers
		tr.RequestPath = done.path
		l.beacon(ctx, tok, tr, strings.Join(done.parts, ""), maxChunks*maxChunkData, "", "", done.lang)
	}
}

func validSessionID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// fire records a use of a planted token and tells the rest of the system:
// the trigger row, the canary events and the canary.<uuid>.triggered
// notice. A store failure is logged; the events still go out, so the
// attacker's profile does not depend on the canary tables.
func (l *Listener) fire(ctx context.Context, tok Token, tr Trigger) {
	tr.UUID = uuid.NewString()
	tr.TokenUUID = tok.UUID
	tr.OccurredAt = l.now().UTC()
	if err := l.Tokens.RecordTrigger(ctx, tr); err != nil {
		l.log().Warn("canary: record trigger", "decky", tok.DeckyName, "service", Service, "src_ip", tr.SrcIP, "token", tok.UUID, "err", err)
	}
	fields := map[string]any{"kind": tok.Kind, "token_id": tok.UUID, "trigger_id": tr.UUID, "generator": tok.Generator,
		"placement_path": tok.PlacementPath, "via": tr.Via}
	for k, v := range map[string]string{"user_agent": tr.UserAgent, "request_path": tr.RequestPath, "dns_qname": tr.DNSQName} {
		if v != "" {
			fields[k] = v
		}
	}
	l.Sink.Emit(event.Event{Time: tr.OccurredAt, Decky: tok.DeckyName, Service: Service, Type: TypeTriggered, SrcIP: tr.SrcIP, Fields: fields})
	metrics := make([]map[string]string, 0, len(tr.Metrics))
	for _, m := range tr.Metrics {
		l.Sink.Emit(event.Event{Time: tr.OccurredAt, Decky: tok.DeckyName, Service: Service, Type: TypeFingerprint, SrcIP: tr.SrcIP,
			Fields: map[string]any{"kind": tok.Kind, "token_id": tok.UUID, "trigger_id": tr.UUID, "metric": m.Name, "matched_signature": m.Signature}})
		metrics = append(metrics, map[string]string{"metric": m.Name, "matched_signature": m.Signature})
	}
	l.Sink.Publish("canary."+tok.UUID+".triggered", map[string]any{
		"token_id": tok.UUID, "trigger_id": tr.UUID, "decky_name": tok.DeckyName, "kind": tok.Kind, "via": tr.Via,
		"src_ip": tr.SrcIP, "attacker_ip": tr.SrcIP, "user_agent": tr.UserAgent, "request_path": tr.RequestPath,
		"dns_qname": tr.DNSQName, "metrics": metrics,
	})
	l.log().Info("canary triggered", "decky", tok.DeckyName, "service", Service, "src_ip", tr.SrcIP, "token", tok.UUID,
		"generator", tok.Generator, "via", tr.Via, "metrics", len(tr.Metrics))

	if tr.Fingerprint != nil && strings.HasPrefix(tok.Generator, "fingerprint_") && l.Revoker != nil {
		l.mu.Lock()
		first := !l.revoking[tok.UUID]
		l.revoking[tok.UUID] = true
		l.mu.Unlock()
		if first {
			// The page did its job; a bait that keeps firing for every
			// later view would only re-count the same browser.
			if err := l.Revoker.Revoke(ctx, tok, "fingerprint_collected"); err != nil {
				l.log().Warn("canary: revoke after fingerprint", "decky", tok.DeckyName, "token", tok.UUID, "err", err)
				l.mu.Lock()
				delete(l.revoking, tok.UUID)
				l.mu.Unlock()
			}
		}
	}
}
