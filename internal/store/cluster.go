package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strings"
	"time"
)

// This file is the identity and campaign clusterer's side of the store
// (docs/identities.md): bulk reads of everything the clusterer compares,
// and the few writes it makes. Reads are whole-table scans done once per
// run, so the clusterer groups in memory by fingerprint value instead of
// asking the database pair by pair.

// Fingerprint is one fingerprint of an attacker as the clusterer compares
// it: its type (hassh, ja3, ja4, http_header_order, probe:jarm, …) and value.
type Fingerprint struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// ClusterAttacker is one attacker as the clusterer sees it. ASN is 0 when
// the address was not enriched.
type ClusterAttacker struct {
	UUID         string
	IP           string
	IdentityID   string
	FirstSeen    time.Time
	LastSeen     time.Time
	ASN          int64
	Fingerprints []Fingerprint
}

// IdentityRollup is what the clusterer derives for an identity from its
// attackers. Lists are sorted and deduplicated.
type IdentityRollup struct {
	ObservationCount int
	FirstSeenAt      time.Time
	LastSeenAt       time.Time
	Confidence       *float64
	JA3Hashes        []string
	HASSHHashes      []string
	JA4Hashes        []string
	JA4HHashes       []string
	JA4QUICHashes    []string
	TLSCertSHA256    []string
}

// Equal reports whether two roll-ups would store the same row.
func (r IdentityRollup) Equal(o IdentityRollup) bool {
	return r.ObservationCount == o.ObservationCount && fmtTime(r.FirstSeenAt) == fmtTime(o.FirstSeenAt) &&
		fmtTime(r.LastSeenAt) == fmtTime(o.LastSeenAt) && sameConfidence(r.Confidence, o.Confidence) &&
		slices.Equal(r.JA3Hashes, o.JA3Hashes) && slices.Equal(r.HASSHHashes, o.HASSHHashes) &&
		slices.Equal(r.JA4Hashes, o.JA4Hashes) && slices.Equal(r.JA4HHashes, o.JA4HHashes) &&
		slices.Equal(r.JA4QUICHashes, o.JA4QUICHashes) && slices.Equal(r.TLSCertSHA256, o.TLSCertSHA256)
}

func sameConfidence(a, b *float64) bool {
	if a == nil || b == nil {
		return a == b
	}
	return math.Abs(*a-*b) < 1e-9
}

// ClusterIdentity is an identity row as the clusterer sees it.
type ClusterIdentity struct {
	UUID       string
	MergedInto string
	CampaignID string
	Rollup     IdentityRollup
}

// CampaignRollup is what the clusterer derives for a campaign from its
// identities. Lists are sorted and deduplicated.
type CampaignRollup struct {
	IdentityCount int
	FirstSeenAt   time.Time
	LastSeenAt    time.Time
	JA3Hashes     []string
	HASSHHashes   []string
	TLSCertSHA256 []string
	C2Endpoints   []string
}

// Equal reports whether two roll-ups would store the same row.
func (r CampaignRollup) Equal(o CampaignRollup) bool {
	return r.IdentityCount == o.IdentityCount && fmtTime(r.FirstSeenAt) == fmtTime(o.FirstSeenAt) &&
		fmtTime(r.LastSeenAt) == fmtTime(o.LastSeenAt) && slices.Equal(r.JA3Hashes, o.JA3Hashes) &&
		slices.Equal(r.HASSHHashes, o.HASSHHashes) && slices.Equal(r.TLSCertSHA256, o.TLSCertSHA256) &&
		slices.Equal(r.C2Endpoints, o.C2Endpoints)
}

// ClusterCampaign is a campaign row as the clusterer sees it.
type ClusterCampaign struct {
	UUID       string
	MergedInto string
	Rollup     CampaignRollup
}

// ClusterSnapshot is everything the clusterer groups, read in one pass.
type ClusterSnapshot struct {
	Attackers  []ClusterAttacker
	Identities []ClusterIdentity
	Campaigns  []ClusterCampaign
}

// ClusterSnapshot reads every attacker with its fingerprints and ASN, and
// every identity and campaign.
func (s *Store) ClusterSnapshot(ctx context.Context) (ClusterSnapshot, error) {
	var snap ClusterSnapshot
	var err error
	snap.Attackers, err = selectAll(ctx, s, "cluster attackers", `SELECT a.uuid, a.ip, a.identity_id, a.first_seen, a.last_seen, i.asn
		FROM attackers a LEFT JOIN attacker_intel i ON i.attacker_uuid = a.uuid`, nil,
		func(sc scanner) (ClusterAttacker, error) {
			var a ClusterAttacker
			var identity sql.NullString
			var first, last string
			var asn sql.NullInt64
			err := sc.Scan(&a.UUID, &a.IP, &identity, &first, &last, &asn)
			a.IdentityID, a.ASN, a.FirstSeen, a.LastSeen = identity.String, asn.Int64, parseTime(first), parseTime(last)
			return a, err
		})
	if err != nil {
		return snap, err
	}
	fps, err := s.attackerFingerprintsAll(ctx)
	if err != nil {
		return snap, err
	}
	for i := range snap.Attackers {
		a := &snap.Attackers[i]
		a.Fingerprints = append(fps[a.UUID], fps["ip:"+a.IP]...)
	}
	snap.Identities, err = selectAll(ctx, s, "cluster identities", `SELECT uuid, merged_into_uuid, campaign_id, observation_count,
		first_seen_at, last_seen_at, confidence, ja3_hashes, hassh_hashes, ja4_hashes, ja4h_hashes, ja4_quic_hashes, tls_cert_sha256
		FROM attacker_identities ORDER BY uuid`, nil, func(sc scanner) (ClusterIdentity, error) {
		var i ClusterIdentity
		var merged, campaign, first, last sql.NullString
		var conf sql.NullFloat64
		var ja3, hassh, ja4, ja4h, ja4q, tls string
		err := sc.Scan(&i.UUID, &merged, &campaign, &i.Rollup.ObservationCount, &first, &last, &conf, &ja3, &hassh, &ja4, &ja4h, &ja4q, &tls)
		i.MergedInto, i.CampaignID, i.Rollup.Confidence = merged.String, campaign.String, optFloat(conf)
		i.Rollup.FirstSeenAt, i.Rollup.LastSeenAt = timeOrZero(first), timeOrZero(last)
		i.Rollup.JA3Hashes, i.Rollup.HASSHHashes, i.Rollup.JA4Hashes = stringList(ja3), stringList(hassh), stringList(ja4)
		i.Rollup.JA4HHashes, i.Rollup.JA4QUICHashes, i.Rollup.TLSCertSHA256 = stringList(ja4h), stringList(ja4q), stringList(tls)
		return i, err
	})
	if err != nil {
		return snap, err
	}
	snap.Campaigns, err = selectAll(ctx, s, "cluster campaigns", `SELECT uuid, merged_into_uuid, identity_count, first_seen_at, last_seen_at,
		ja3_hashes, hassh_hashes, tls_cert_sha256, c2_endpoints FROM campaigns ORDER BY uuid`, nil, func(sc scanner) (ClusterCampaign, error) {
		var c ClusterCampaign
		var merged, first, last sql.NullString
		var ja3, hassh, tls, c2 string
		err := sc.Scan(&c.UUID, &merged, &c.Rollup.IdentityCount, &first, &last, &ja3, &hassh, &tls, &c2)
		c.MergedInto, c.Rollup.FirstSeenAt, c.Rollup.LastSeenAt = merged.String, timeOrZero(first), timeOrZero(last)
		c.Rollup.JA3Hashes, c.Rollup.HASSHHashes = stringList(ja3), stringList(hassh)
		c.Rollup.TLSCertSHA256, c.Rollup.C2Endpoints = stringList(tls), stringList(c2)
		return c, err
	})
	return snap, err
}

func timeOrZero(s sql.NullString) time.Time {
	if !s.Valid || s.String == "" {
		return time.Time{}
	}
	return parseTime(s.String)
}

// attackerFingerprintsAll reads every attacker's fingerprints: the
// passive ones of the loot stage (attacker_fingerprints, keyed "ip:<addr>")
// and the prober's last hash per probe type (attacker_fingerprint_state,
// type "probe:<probe_type>", keyed by attacker uuid). It is the one place
// that knows where fingerprints are stored.
func (s *Store) attackerFingerprintsAll(ctx context.Context) (map[string][]Fingerprint, error) {
	out := map[string][]Fingerprint{}
	rs, err := s.db.QueryContext(ctx, "SELECT attacker_ip, fingerprint_type, value FROM attacker_fingerprints")
	if err != nil {
		return nil, fmt.Errorf("store: passive fingerprints: %w", err)
	}
	for rs.Next() {
		var ip, typ, value string
		if err := rs.Scan(&ip, &typ, &value); err != nil {
			rs.Close()
			return nil, err
		}
		out["ip:"+ip] = append(out["ip:"+ip], Fingerprint{Type: typ, Value: value})
	}
	rs.Close()
	if err := rs.Err(); err != nil {
		return nil, err
	}
	rs, err = s.db.QueryContext(ctx, "SELECT attacker_uuid, probe_type, last_hash FROM attacker_fingerprint_state")
	if err != nil {
		return nil, fmt.Errorf("store: probe fingerprints: %w", err)
	}
	defer rs.Close()
	for rs.Next() {
		var id, typ, hash string
		if err := rs.Scan(&id, &typ, &hash); err != nil {
			return nil, err
		}
		if hash != "" {
			out[id] = append(out[id], Fingerprint{Type: "probe:" + typ, Value: hash})
		}
	}
	return out, rs.Err()
}

// maxEvidencePerAttacker bounds the commands, credentials and hosts kept
// per attacker for comparison.
const maxEvidencePerAttacker = 512

// inChunk is how many addresses one IN (…) list holds.
const inChunk = 500

// eachChunk runs fn over ips in slices of inChunk, with the matching
// placeholder list.
func eachChunk(ips []string, fn func(part []string, marks string) error) error {
	for len(ips) > 0 {
		n := min(len(ips), inChunk)
		part := ips[:n]
		ips = ips[n:]
		if err := fn(part, strings.TrimSuffix(strings.Repeat("?,", n), ",")); err != nil {
			return err
		}
	}
	return nil
}

func anySlice(l []string) []any {
	out := make([]any, len(l))
	for i, v := range l {
		out[i] = v
	}
	return out
}

// addBounded adds v to the set of ip unless it holds maxEvidencePerAttacker.
func addBounded(m map[string]map[string]bool, ip, v string) {
	set := m[ip]
	if set == nil {
		set = map[string]bool{}
		m[ip] = set
	}
	if len(set) < maxEvidencePerAttacker {
		set[v] = true
	}
}

func sortedSets(m map[string]map[string]bool) map[string][]string {
	out := make(map[string][]string, len(m))
	for k, set := range m {
		l := make([]string, 0, len(set))
		for v := range set {
			l = append(l, v)
		}
		slices.Sort(l)
		out[k] = l
	}
	return out
}

// CommandSets returns the distinct commands (trimmed, at most 512) each of
// ips ran, sorted, by address.
func (s *Store) CommandSets(ctx context.Context, ips []string) (map[string][]string, error) {
	return s.eventFieldSets(ctx, "command sets", "'command'", "command",
		func(c string) string { return strings.Join(strings.Fields(c), " ") }, ips)
}

// eventFieldSets returns, by address, the distinct values of one field of
// the events of some types (types: a constant SQL list of quoted names)
// each of ips sent, passed through norm ("" drops a value), at most 512
// each, sorted.
func (s *Store) eventFieldSets(ctx context.Context, what, types, field string, norm func(string) string, ips []string) (map[string][]string, error) {
	sets := map[string]map[string]bool{}
	err := eachChunk(ips, func(part []string, marks string) error {
		rs, err := s.db.QueryContext(ctx, s.q("SELECT attacker_ip, fields FROM events WHERE event_type IN ("+types+") AND attacker_ip IN ("+marks+")"), anySlice(part)...)
		if err != nil {
			return fmt.Errorf("store: %s: %w", what, err)
		}
		defer rs.Close()
		for rs.Next() {
			var ip, fields string
			if err := rs.Scan(&ip, &fields); err != nil {
				return err
			}
			var f map[string]any
			json.Unmarshal([]byte(fields), &f)
			v, _ := f[field].(string)
			if v = norm(v); v != "" {
				addBounded(sets, ip, v)
			}
		}
		return rs.Err()
	})
	return sortedSets(sets), err
}

// CredentialSets returns the distinct credentials each of ips tried, as
// "principal\x00secret_kind\x00secret_sha256" (at most 512), sorted, by
// address.
func (s *Store) CredentialSets(ctx context.Context, ips []string) (map[string][]string, error) {
	sets := map[string]map[string]bool{}
	err := eachChunk(ips, func(part []string, marks string) error {
		rs, err := s.db.QueryContext(ctx, s.q("SELECT attacker_ip, principal, secret_kind, secret_sha256 FROM credentials WHERE attacker_ip IN ("+marks+")"), anySlice(part)...)
		if err != nil {
			return fmt.Errorf("store: credential sets: %w", err)
		}
		defer rs.Close()
		for rs.Next() {
			var ip, principal, kind, sha string
			if err := rs.Scan(&ip, &principal, &kind, &sha); err != nil {
				return err
			}
			addBounded(sets, ip, principal+"\x00"+kind+"\x00"+sha)
		}
		return rs.Err()
	})
	return sortedSets(sets), err
}

// DownloadHosts returns the hosts (lower-case, without port) of the URLs
// each of ips asked a decky to fetch (download_attempt, file_captured with
// a url), at most 512, sorted, by address.
func (s *Store) DownloadHosts(ctx context.Context, ips []string) (map[string][]string, error) {
	return s.eventFieldSets(ctx, "download hosts", "'download_attempt', 'file_captured'", "url", urlHost, ips)
}

// urlHost is the lower-case host of raw ("" when it has none). A bare
// "host/path" (wget's habit) is read as http.
func urlHost(raw string) string {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return ""
	}
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
}

// encodeStrings encodes a list as a JSON array; nil is [].
func encodeStrings(l []string) string {
	if l == nil {
		l = []string{}
	}
	b, _ := json.Marshal(l)
	return string(b)
}

// CreateClusterIdentity adds an identity for attackers that have none and
// links them to it, in one transaction. It returns the new identity and
// the attackers it linked (an attacker that gained an identity meanwhile
// is left alone). With no attacker left to link nothing is created.
func (s *Store) CreateClusterIdentity(ctx context.Context, attackers []string, r IdentityRollup) (string, []string, error) {
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return "", nil, err
	}
	defer tx.Rollback()
	id, now := hexID(), fmtTime(time.Now())
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO attacker_identities (uuid, first_seen_at, last_seen_at, created_at, updated_at,
		confidence, observation_count, ja3_hashes, hassh_hashes, ja4_hashes, ja4h_hashes, ja4_quic_hashes, tls_cert_sha256)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)`), id, optTimeArg(r.FirstSeenAt), optTimeArg(r.LastSeenAt), now, now, confArg(r.Confidence),
		r.ObservationCount, encodeStrings(r.JA3Hashes), encodeStrings(r.HASSHHashes), encodeStrings(r.JA4Hashes),
		encodeStrings(r.JA4HHashes), encodeStrings(r.JA4QUICHashes), encodeStrings(r.TLSCertSHA256)); err != nil {
		return "", nil, fmt.Errorf("store: create identity: %w", err)
	}
	linked, err := s.linkTx(ctx, tx.Tx, id, attackers)
	if err != nil || len(linked) == 0 {
		return "", nil, err
	}
	return id, linked, tx.Commit()
}

// LinkAttackersToIdentity points attackers that have no identity at
// identity and returns those it linked; attackers that have one keep it.
func (s *Store) LinkAttackersToIdentity(ctx context.Context, identity string, attackers []string) ([]string, error) {
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	linked, err := s.linkTx(ctx, tx.Tx, identity, attackers)
	if err != nil {
		return nil, err
	}
	return linked, tx.Commit()
}

func (s *Store) linkTx(ctx context.Context, tx *sql.Tx, identity string, attackers []string) ([]string, error) {
	var linked []string
	for _, a := range attackers {
		r, err := tx.ExecContext(ctx, s.q("UPDATE attackers SET identity_id = ? WHERE uuid = ? AND identity_id IS NULL"), identity, a)
		if err != nil {
			return nil, fmt.Errorf("store: link %s to identity %s: %w", a, identity, err)
		}
		if n, _ := r.RowsAffected(); n == 1 {
			linked = append(linked, a)
		}
	}
	return linked, nil
}

// UnmergeIdentity clears an identity's merge pointer: it stands on its own
// again.
func (s *Store) UnmergeIdentity(ctx context.Context, id string) error {
	return s.setRef(ctx, "UPDATE attacker_identities SET merged_into_uuid = ?, updated_at = ? WHERE uuid = ?", "", id)
}

// UpdateIdentityRollup stores the clusterer's roll-up of an identity.
func (s *Store) UpdateIdentityRollup(ctx context.Context, id string, r IdentityRollup) error {
	res, err := s.execWrite(ctx, s.q(`UPDATE attacker_identities SET observation_count = ?, first_seen_at = ?, last_seen_at = ?,
		confidence = ?, ja3_hashes = ?, hassh_hashes = ?, ja4_hashes = ?, ja4h_hashes = ?, ja4_quic_hashes = ?, tls_cert_sha256 = ?,
		updated_at = ? WHERE uuid = ?`), r.ObservationCount, optTimeArg(r.FirstSeenAt), optTimeArg(r.LastSeenAt), confArg(r.Confidence),
		encodeStrings(r.JA3Hashes), encodeStrings(r.HASSHHashes), encodeStrings(r.JA4Hashes), encodeStrings(r.JA4HHashes),
		encodeStrings(r.JA4QUICHashes), encodeStrings(r.TLSCertSHA256), fmtTime(time.Now()), id)
	if err != nil {
		return fmt.Errorf("store: identity %s roll-up: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// CreateClusterCampaign adds a campaign with its roll-up and returns its id.
func (s *Store) CreateClusterCampaign(ctx context.Context, r CampaignRollup) (string, error) {
	id, now := newUUID(), fmtTime(time.Now())
	_, err := s.execWrite(ctx, s.q(`INSERT INTO campaigns (uuid, first_seen_at, last_seen_at, created_at, updated_at,
		identity_count, ja3_hashes, hassh_hashes, tls_cert_sha256, c2_endpoints) VALUES (?,?,?,?,?,?,?,?,?,?)`),
		id, optTimeArg(r.FirstSeenAt), optTimeArg(r.LastSeenAt), now, now, r.IdentityCount, encodeStrings(r.JA3Hashes),
		encodeStrings(r.HASSHHashes), encodeStrings(r.TLSCertSHA256), encodeStrings(r.C2Endpoints))
	if err != nil {
		return "", fmt.Errorf("store: create campaign: %w", err)
	}
	return id, nil
}

// UpdateCampaignRollup stores the clusterer's roll-up of a campaign.
func (s *Store) UpdateCampaignRollup(ctx context.Context, id string, r CampaignRollup) error {
	res, err := s.execWrite(ctx, s.q(`UPDATE campaigns SET identity_count = ?, first_seen_at = ?, last_seen_at = ?,
		ja3_hashes = ?, hassh_hashes = ?, tls_cert_sha256 = ?, c2_endpoints = ?, updated_at = ? WHERE uuid = ?`),
		r.IdentityCount, optTimeArg(r.FirstSeenAt), optTimeArg(r.LastSeenAt), encodeStrings(r.JA3Hashes), encodeStrings(r.HASSHHashes),
		encodeStrings(r.TLSCertSHA256), encodeStrings(r.C2Endpoints), fmtTime(time.Now()), id)
	if err != nil {
		return fmt.Errorf("store: campaign %s roll-up: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// MergeCampaign records that campaign loser is part of winner (a soft
// pointer: its identities keep their campaign_id).
func (s *Store) MergeCampaign(ctx context.Context, loser, winner string) error {
	if loser == winner {
		return fmt.Errorf("%w: campaign %s merged into itself", ErrInvalid, loser)
	}
	return s.setRef(ctx, "UPDATE campaigns SET merged_into_uuid = ?, updated_at = ? WHERE uuid = ?", winner, loser)
}

func optTimeArg(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return fmtTime(t)
}

func confArg(c *float64) any {
	if c == nil {
		return nil
	}
	return *c
}
