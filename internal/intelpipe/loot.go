package intelpipe

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/store"
)

// The loot stage (S2a bounty extraction and the S6 reuse correlator,
// docs/pipeline.md "Loot"): every event is read for what it gives away —
// passive fingerprints (HASSH, SSH client version, JA3, JA4, user agent,
// HTTP header order), an internal address leaked in an X-Forwarded-For
// family header, a captured file or stored message — and written as
// bounty rows; a credential refreshes the reuse row of its secret. New
// findings go out on attacker.fingerprinted and credential.reuse.detected.
// Every write is keyed (the session's fingerprint, the bounty payload, the
// reuse row's announced target count), so a redelivered event changes
// nothing and publishes nothing.

// TopicCredentialReuse announces a reuse row that is new or whose targets
// grew (core NATS).
const TopicCredentialReuse = "credential.reuse.detected"

// passiveFP is one fingerprint an event shows, with its bounty payload.
type passiveFP struct {
	typ, value string
	payload    map[string]any
}

// hashTypes are the fingerprint types whose value is a hash: their bounty
// payload names it "hash"; the others name it "value".
var hashTypes = map[string]bool{store.FingerprintHASSH: true, store.FingerprintJA3: true,
	store.FingerprintJA4: true, store.FingerprintHTTPHeaderOrder: true}

// fingerprintsOf lists the passive fingerprints an event shows, each with
// the bounty payload recording it:
//
//	hassh               {fingerprint_type, hash, algorithms, session_id}
//	ssh_client_version  {fingerprint_type, value, session_id}
//	ja3                 {fingerprint_type, hash, ja3, session_id}
//	ja4                 {fingerprint_type, hash, session_id}
//	http_useragent      {fingerprint_type, value, tools, session_id}
//	http_header_order   {fingerprint_type, hash, headers, session_id}
//
// session_id is the session that first showed it to us.
func fingerprintsOf(e event.Event) []passiveFP {
	var out []passiveFP
	add := func(typ, value string, extra ...any) {
		value = strings.TrimSpace(value)
		if value == "" {
			return
		}
		key := "value"
		if hashTypes[typ] {
			key = "hash"
		}
		p := map[string]any{"fingerprint_type": typ, key: value, "session_id": e.Session}
		for i := 0; i+1 < len(extra); i += 2 {
			p[extra[i].(string)] = extra[i+1]
		}
		out = append(out, passiveFP{typ, value, p})
	}
	str := func(k string) string { s, _ := e.Fields[k].(string); return s }
	if v := str("client_version"); v != "" && (e.Service == "ssh" || strings.HasPrefix(v, "SSH-")) {
		add(store.FingerprintSSHClientVersion, v)
	}
	add(store.FingerprintHASSH, strings.ToLower(str("hassh")), "algorithms", str("hassh_algorithms"))
	add(store.FingerprintJA3, strings.ToLower(str("ja3_hash")), "ja3", str("ja3"))
	add(store.FingerprintJA4, str("ja4"))
	if ua := str("user_agent"); ua != "" {
		tools := ToolsFromUserAgent(ua)
		if tools == nil {
			tools = []string{}
		}
		add(store.FingerprintHTTPUserAgent, ua, "tools", tools)
	}
	if names := headerNames(str("header_list")); len(names) > 0 {
		order := strings.Join(names, ",")
		sum := sha256.Sum256([]byte(order))
		add(store.FingerprintHTTPHeaderOrder, hex.EncodeToString(sum[:16]), "headers", order)
	}
	return out
}

// headerNames reads the header names, as sent and in wire order, from an
// http request event's header_list ([[name, value], …]).
func headerNames(list string) []string {
	if list == "" {
		return nil
	}
	var pairs [][2]string
	if json.Unmarshal([]byte(list), &pairs) != nil {
		return nil
	}
	names := make([]string, len(pairs))
	for i, p := range pairs {
		names[i] = p[0]
	}
	return names
}

// leakHeaders are the X-Forwarded-For family: headers a proxy (or a tool
// behind one) fills with the client's real address.
var leakHeaders = []string{"x-forwarded-for", "forwarded", "x-real-ip", "x-client-ip", "client-ip",
	"true-client-ip", "cf-connecting-ip", "x-originating-ip", "x-remote-ip", "x-remote-addr",
	"x-cluster-client-ip", "fastly-client-ip", "x-forwarded"}

// ipLeaksOf lists the ip_leak bounty payloads of an http event: one
// {header, leaked_ip, scope} per address an X-Forwarded-For family header
// names that is not the source address. scope is loopback, private,
// link_local or public: a loopback value is more often a spoofing attempt
// (an access-control bypass) than a real leak.
func ipLeaksOf(e event.Event) []map[string]any {
	raw, _ := e.Fields["headers"].(string)
	if raw == "" {
		return nil
	}
	var hs map[string]string
	if json.Unmarshal([]byte(raw), &hs) != nil {
		return nil
	}
	src, _ := netip.ParseAddr(e.SrcIP)
	src = src.Unmap()
	var out []map[string]any
	seen := map[string]bool{}
	for name, v := range hs {
		lower := strings.ToLower(name)
		if !slices.Contains(leakHeaders, lower) {
			continue
		}
		for _, a := range headerAddrs(lower, v) {
			if a == src || seen[lower+" "+a.String()] {
				continue
			}
			seen[lower+" "+a.String()] = true
			out = append(out, map[string]any{"header": lower, "leaked_ip": a.String(), "scope": scope(a)})
		}
	}
	return out
}

// maxLeakAddrs bounds the addresses read from one header.
const maxLeakAddrs = 16

// headerAddrs reads the addresses of an X-Forwarded-For family header:
// a comma-separated list, or Forwarded's for= parameters (RFC 7239),
// ports and brackets allowed; anything else is skipped.
func headerAddrs(name, v string) []netip.Addr {
	var out []netip.Addr
	for _, part := range strings.Split(v, ",") {
		if len(out) == maxLeakAddrs {
			break
		}
		part = strings.TrimSpace(part)
		if name == "forwarded" {
			found := false
			for _, kv := range strings.Split(part, ";") {
				k, val, ok := strings.Cut(strings.TrimSpace(kv), "=")
				if ok && strings.EqualFold(k, "for") {
					part, found = strings.Trim(val, `"`), true
					break
				}
			}
			if !found {
				continue
			}
		}
		if a, ok := parseHostAddr(part); ok {
			out = append(out, a)
		}
	}
	return out
}

// parseHostAddr parses "1.2.3.4", "1.2.3.4:80", "[2001:db8::1]:80" or
// "2001:db8::1".
func parseHostAddr(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), a.IsValid() && !a.IsUnspecified()
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		a := ap.Addr().Unmap()
		return a, !a.IsUnspecified()
	}
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return a.Unmap(), !a.IsUnspecified()
	}
	return netip.Addr{}, false
}

func scope(a netip.Addr) string {
	switch {
	case a.IsLoopback():
		return "loopback"
	case a.IsPrivate():
		return "private"
	case a.IsLinkLocalUnicast():
		return "link_local"
	}
	return "public"
}

// artifactOf is the artifact bounty payload of a file_captured or
// message_stored event, or nil:
//
//	file_captured   {artifact_type: "file", sha256, stored_as, orig_path, size, session_id}
//	message_stored  {artifact_type: "email", sha256, stored_as, msg_id, subject,
//	                 attachment_sha256s, session_id}
func artifactOf(e event.Event) map[string]any {
	sha, _ := e.Fields["sha256"].(string)
	if len(sha) != 64 {
		return nil
	}
	p := map[string]any{"sha256": strings.ToLower(sha), "stored_as": e.Fields["stored_as"], "session_id": e.Session}
	switch e.Type {
	case event.TypeFileCaptured:
		p["artifact_type"], p["orig_path"], p["size"] = "file", e.Fields["orig_path"], e.Fields["size"]
	case "message_stored":
		shas := []string{}
		for _, a := range attachmentsOf(e.Fields["attachments_json"]) {
			shas = append(shas, strings.ToLower(a.SHA256))
		}
		p["artifact_type"], p["msg_id"], p["subject"], p["attachment_sha256s"] = "email", e.Fields["msg_id"], e.Fields["subject"], shas
	default:
		return nil
	}
	return p
}

// lootFinds is what one event of the loot stage carries.
type lootFinds struct {
	attacker string
	fps      []passiveFP
	leaks    []map[string]any
	art      map[string]any
	at       int // its first fingerprint sighting in the batch
}

// lootBatch is the loot stage over a batch: the fingerprint sightings of
// every event are written in one transaction (a brute-force run repeats
// the client's fingerprints on every connection), then each event's
// bounties and the reuse row of its credential. errs[i] is the outcome of
// events[i], as a handler's.
func (p *Pipeline) lootBatch(ctx context.Context, events []event.Event) []error {
	errs := make([]error, len(events))
	finds := make([]*lootFinds, len(events))
	var sightings []store.FingerprintSighting
	inBatch := map[string]bool{} // session fingerprints met earlier in the batch
	for i, e := range events {
		errs[i] = guard(e, func() error {
			f, err := p.lootOf(ctx, e)
			if f == nil || err != nil {
				return err
			}
			f.fps = slices.DeleteFunc(f.fps, func(fp passiveFP) bool {
				k := sessionKey(e, fp)
				seen := inBatch[k]
				inBatch[k] = true
				return seen
			})
			f.at = len(sightings)
			for _, fp := range f.fps {
				payload, _ := json.Marshal(fp.payload) // strings and string lists always marshal
				sightings = append(sightings, store.FingerprintSighting{AttackerFingerprint: store.AttackerFingerprint{
					AttackerIP: e.SrcIP, Type: fp.typ, Value: fp.value, SessionID: e.Session, Decky: e.Decky,
					Service: e.Service, FirstSeen: e.Time}, Bounty: payload})
			}
			finds[i] = f
			return nil
		})
	}
	var first []bool
	if len(sightings) > 0 {
		var err error
		if first, err = p.cfg.Store.AddFingerprints(ctx, sightings); err != nil {
			for i, f := range finds {
				if f != nil && len(f.fps) > 0 {
					errs[i], finds[i] = err, nil
				}
			}
		}
	}
	for i, f := range finds {
		if f == nil {
			continue
		}
		e := events[i]
		errs[i] = guard(e, func() error { return p.lootRest(ctx, e, f, first) })
	}
	return errs
}

// lootOf reads what an event carries for the loot stage and resolves its
// attacker; nil when it carries nothing.
func (p *Pipeline) lootOf(ctx context.Context, e event.Event) (*lootFinds, error) {
	if e.SrcIP == "" || platformServices[e.Service] {
		return nil, nil
	}
	f := &lootFinds{fps: p.unseen(e, fingerprintsOf(e)), art: artifactOf(e)}
	if _, ok := e.Fields["headers"]; ok {
		f.leaks = ipLeaksOf(e)
	}
	if src, err := netip.ParseAddr(e.SrcIP); err == nil && isLinkLocal6(src) && e.Type == event.TypeConnect {
		// The attacker reached the decky from its own link-local address:
		// it sits on the decky's segment, and the address may carry its MAC.
		f.leaks = append(f.leaks, map[string]any{"header": "", "leaked_ip": src.String(), "scope": "link_local", "vector": "connection"})
	}
	if len(f.fps) == 0 && len(f.leaks) == 0 && f.art == nil && e.Credential == nil {
		return nil, nil
	}
	// The attacker row first: every notification names it, and a write
	// made before a deferral would make the retry see nothing new.
	var err error
	if f.attacker, err = p.attackerUUID(ctx, e); err != nil {
		return nil, err
	}
	return f, nil
}

// lootRest announces an event's new fingerprints (first is the batch's
// AddFingerprints answer), then writes its bounties and reuse row.
func (p *Pipeline) lootRest(ctx context.Context, e event.Event, f *lootFinds, first []bool) error {
	for k, fp := range f.fps {
		p.lootMem.sessions.put(sessionKey(e, fp), "")
		if first[f.at+k] {
			p.cluster.Wake() // a new fingerprint may link this attacker to others
			p.cfg.Publish(TopicFingerprinted, map[string]any{"attacker_uuid": nullable(f.attacker), "attacker_ip": e.SrcIP,
				"fingerprint_type": fp.typ, "value": fp.value, "session_id": nullable(e.Session),
				"decky": e.Decky, "service": e.Service})
		}
	}
	for _, l := range f.leaks {
		fresh, err := p.bounty(ctx, e, store.BountyIPLeak, l)
		if err != nil {
			return err
		}
		if fresh {
			p.ipv6Leak(e, f.attacker, l)
		}
	}
	if f.art != nil {
		if _, err := p.bounty(ctx, e, store.BountyArtifact, f.art); err != nil {
			return err
		}
	}
	if e.Credential != nil {
		return p.reuse(ctx, e, f.attacker)
	}
	return nil
}

func (p *Pipeline) bounty(ctx context.Context, e event.Event, typ string, payload map[string]any) (fresh bool, err error) {
	b, err := json.Marshal(payload)
	if err != nil {
		return false, fmt.Errorf("%s bounty of %s: %w", typ, e.ID, err)
	}
	return p.cfg.Store.AddBounty(ctx, store.Bounty{TS: e.Time, Decky: e.Decky, Service: e.Service,
		AttackerIP: e.SrcIP, BountyType: typ, Payload: b})
}

// TopicIPv6Leak announces an attacker's link-local IPv6 address, seen as
// the source of a connection or named in a forwarding header (TTP rule
// R0059).
const TopicIPv6Leak = "attacker.ipv6_leak"

// ipv6Leak publishes attacker.ipv6_leak for a new ip_leak bounty whose
// address is IPv6 link-local, with what its interface identifier reveals.
func (p *Pipeline) ipv6Leak(e event.Event, attacker string, leak map[string]any) {
	s, _ := leak["leaked_ip"].(string)
	a, err := netip.ParseAddr(s)
	if err != nil || !isLinkLocal6(a) {
		return
	}
	kind, oui := iidOf(a)
	vector, _ := leak["vector"].(string)
	if vector == "" {
		vector = "header:" + fmt.Sprint(leak["header"])
	}
	p.cfg.Publish(TopicIPv6Leak, map[string]any{"attacker_uuid": nullable(attacker), "attacker_ip": e.SrcIP,
		"addr": a.String(), "iid_kind": kind, "mac_oui": nullable(oui), "vector": vector,
		"decky": e.Decky, "service": e.Service, "session_id": nullable(e.Session),
		"source_id": "ipv6_leak:" + e.SrcIP + ":" + a.String(), "observed_at": epoch(e.Time)})
}

func isLinkLocal6(a netip.Addr) bool { return a.Is6() && !a.Is4In6() && a.IsLinkLocalUnicast() }

// iidOf classifies the interface identifier of an IPv6 address: eui64
// (built from the MAC, whose vendor prefix it returns as aa:bb:cc) or
// opaque (random or stable-privacy).
func iidOf(a netip.Addr) (kind, oui string) {
	b := a.As16()
	if b[11] == 0xff && b[12] == 0xfe {
		return "eui64", fmt.Sprintf("%02x:%02x:%02x", b[8]^0x02, b[9], b[10])
	}
	return "opaque", ""
}

// reuse refreshes the reuse row of the event's secret and announces it
// when it is new or its targets grew. A credentials row already folded
// into the row (another attempt of the same attacker, decky, service and
// secret) cannot add a target or an attacker, so the stage skips the
// refresh: the row's attempt_count and last_seen then catch up on the next
// new member or the API's refresh. That keeps a brute-force run of one
// secret at one map lookup per attempt.
func (p *Pipeline) reuse(ctx context.Context, e event.Event, attacker string) error {
	c := e.Credential
	sum := sha256.Sum256([]byte(strings.Join([]string{c.SecretKind, c.SecretB64, c.Principal, e.SrcIP, e.Decky, e.Service}, "\x00")))
	member := string(sum[:])
	if _, ok := p.lootMem.members.get(member); ok {
		return nil
	}
	secret := sha256.Sum256([]byte(strings.Join([]string{c.SecretKind, c.SecretB64, c.Principal}, "\x00")))
	target := [2]string{e.Decky, e.Service}
	if p.lootMem.secrets.unchanged(string(secret[:]), target, e.SrcIP) {
		p.lootMem.members.put(member, "")
		return nil
	}
	u, err := p.cfg.Store.RefreshCredentialReuseOf(ctx, e)
	switch {
	case errors.Is(err, store.ErrInvalid):
		p.log.Warn("loot: credential not readable; skipped", "event", e.ID, "decky", e.Decky, "service", e.Service, "err", err)
		return nil
	case err != nil:
		return err
	case u.CredentialID == 0 && time.Since(e.Time) < maxDefer:
		return retryLater(ingestLag, "credential of "+e.ID+" not stored yet")
	}
	if u.CredentialID != 0 {
		p.lootMem.members.put(member, "")
		p.lootMem.secrets.learn(string(secret[:]), target, e.SrcIP, u)
	}
	if !u.Announce {
		return nil
	}
	r := u.Reuse
	p.cfg.Publish(TopicCredentialReuse, map[string]any{"id": r.ID, "secret_kind": r.SecretKind,
		"secret_sha256": r.SecretSHA256, "principal": nullable(r.Principal), "target_count": r.TargetCount,
		"attempt_count": r.AttemptCount, "attacker_uuids": r.AttackerUUIDs, "attacker_ips": r.AttackerIPs,
		"deckies": r.Deckies, "services": r.Services, "attacker_uuid": nullable(attacker),
		"attacker_ip": e.SrcIP, "credential_id": nullableID(u.CredentialID), "new": u.Inserted})
	return nil
}

func nullableID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

// lootMemory is what the loot stage remembers between events, bounded;
// losing it (a restart) costs lookups, never a finding.
type lootMemory struct {
	members  stringCache // credentials rows already folded into their reuse row
	secrets  secretMemory
	sessions stringCache // (session, address, fingerprint) already recorded
}

// unseen drops the fingerprints this run has already recorded for the
// event's session: an ssh brute-force repeats its client version on every
// login attempt, and the store would only confirm each one is known.
func (p *Pipeline) unseen(e event.Event, fps []passiveFP) []passiveFP {
	out := fps[:0]
	for _, fp := range fps {
		if _, ok := p.lootMem.sessions.get(sessionKey(e, fp)); !ok {
			out = append(out, fp)
		}
	}
	return out
}

func sessionKey(e event.Event, fp passiveFP) string {
	sum := sha256.Sum256([]byte(strings.Join([]string{e.Session, e.SrcIP, fp.typ, fp.value}, "\x00")))
	return string(sum[:16])
}

// secretMemory is what the loot stage knows of the reuse rows of recent
// secrets, so that the usual credential event — one more address spraying
// a password already tried on the same decky and service, whose row lists
// it or lists as many as it keeps — needs no database read at all.
type secretMemory struct {
	mu sync.Mutex
	m  map[string]*secretState
}

// secretState is one secret's reuse row as the stage last saw it.
type secretState struct {
	row     bool               // the reuse row exists
	targets map[[2]string]bool // (decky, service) pairs the row counts
	listed  map[string]bool    // addresses the row lists
	full    bool               // the row lists as many addresses as it keeps
}

// secretMemoryMax bounds the secrets remembered; past it the memory
// starts afresh.
const secretMemoryMax = 4096

// unchanged reports whether an event of secret on target from ip would
// leave the secret's reuse row as it is (but for its counts).
func (m *secretMemory) unchanged(secret string, target [2]string, ip string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.m[secret]
	switch {
	case st == nil || !st.targets[target]:
		return false
	case !st.row:
		// Tried on this one target only: no row, and another address on
		// the same target makes none (a password sprayed at one decky).
		return len(st.targets) == 1
	}
	return st.full || st.listed[ip]
}

// learn records what the store answered for an event of secret on target
// from ip (stored in the credentials table: u.CredentialID is set).
func (m *secretMemory) learn(secret string, target [2]string, ip string, u store.ReuseUpdate) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m == nil || len(m.m) >= secretMemoryMax {
		m.m = map[string]*secretState{}
	}
	st := m.m[secret]
	if st == nil {
		st = &secretState{targets: map[[2]string]bool{}, listed: map[string]bool{}}
		m.m[secret] = st
	}
	st.targets[target] = true
	switch {
	case u.Known:
		st.row, st.listed[ip] = true, true
	case u.Reuse == nil:
		// No row: the secret has been tried on one target only.
		if !st.row {
			clear(st.targets)
			st.targets[target] = true
		}
	default:
		st.row, st.full = true, len(u.Reuse.AttackerIPs) >= store.ReuseListMax
		clear(st.listed)
		for _, a := range u.Reuse.AttackerIPs {
			st.listed[a] = true
		}
	}
}

// stringCache is a set of keys with a value each; past maxSeen it starts
// afresh.
type stringCache struct {
	mu sync.Mutex
	m  map[string]string
}

func (c *stringCache) get(ip string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id, ok := c.m[ip]
	return id, ok
}

func (c *stringCache) put(ip, id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxSeen {
		c.m = map[string]string{}
	}
	c.m[ip] = id
}
