package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Identity is a deduplicated actor behind one or more attacker addresses.
// A merged identity points at the one it was merged into.
type Identity struct {
	UUID              string          `json:"uuid"`
	CampaignID        string          `json:"campaign_id"`
	FirstSeenAt       *time.Time      `json:"first_seen_at"`
	LastSeenAt        *time.Time      `json:"last_seen_at"`
	CreatedAt         time.Time       `json:"created_at"`
	UpdatedAt         time.Time       `json:"updated_at"`
	Confidence        *float64        `json:"confidence"`
	ObservationCount  int             `json:"observation_count"`
	JA3Hashes         []string        `json:"ja3_hashes"`
	HASSHHashes       []string        `json:"hassh_hashes"`
	JA4Hashes         []string        `json:"ja4_hashes"`
	JA4HHashes        []string        `json:"ja4h_hashes"`
	JA4QUICHashes     []string        `json:"ja4_quic_hashes"`
	HTTPVersionsSeen  []string        `json:"http_versions_seen"`
	TLSCertSHA256     []string        `json:"tls_cert_sha256"`
	PayloadSimhashes  []string        `json:"payload_simhashes"`
	C2Endpoints       []string        `json:"c2_endpoints"`
	IPv6LinkLocalIIDs json.RawMessage `json:"ipv6_link_local_iids"`
	KDDigraphSimhash  string          `json:"kd_digraph_simhash"` // 16 hex digits
	MergedIntoUUID    string          `json:"merged_into_uuid"`
	Notes             string          `json:"notes"`
	SchemaVersion     int             `json:"schema_version"`
}

// Campaign is an operation-level grouping of identities.
type Campaign struct {
	UUID             string     `json:"uuid"`
	FirstSeenAt      *time.Time `json:"first_seen_at"`
	LastSeenAt       *time.Time `json:"last_seen_at"`
	CreatedAt        time.Time  `json:"created_at"`
	UpdatedAt        time.Time  `json:"updated_at"`
	Confidence       *float64   `json:"confidence"`
	IdentityCount    int        `json:"identity_count"`
	JA3Hashes        []string   `json:"ja3_hashes"`
	HASSHHashes      []string   `json:"hassh_hashes"`
	TLSCertSHA256    []string   `json:"tls_cert_sha256"`
	PayloadSimhashes []string   `json:"payload_simhashes"`
	C2Endpoints      []string   `json:"c2_endpoints"`
	MergedIntoUUID   string     `json:"merged_into_uuid"`
	Notes            string     `json:"notes"`
	SchemaVersion    int        `json:"schema_version"`
}

// maxMergeHops bounds how far a chain of merges is followed.
const maxMergeHops = 8

const identityCols = `uuid, campaign_id, first_seen_at, last_seen_at, created_at, updated_at, confidence,
	observation_count, ja3_hashes, hassh_hashes, ja4h_hashes, ja4_quic_hashes, http_versions_seen, tls_cert_sha256,
	payload_simhashes, c2_endpoints, ipv6_link_local_iids, kd_digraph_simhash, merged_into_uuid, notes, schema_version, ja4_hashes`

// stringList decodes a JSON list column; never nil.
func stringList(s string) []string {
	var l []string
	json.Unmarshal([]byte(s), &l)
	if l == nil {
		l = []string{}
	}
	return l
}

func optTime(s sql.NullString) *time.Time {
	if !s.Valid || s.String == "" {
		return nil
	}
	t := parseTime(s.String)
	return &t
}

func optFloat(f sql.NullFloat64) *float64 {
	if !f.Valid {
		return nil
	}
	return &f.Float64
}

func scanIdentity(sc interface{ Scan(...any) error }) (Identity, error) {
	var i Identity
	var campaign, first, last, simhash, merged sql.NullString
	var created, updated, ja3, hassh, ja4, ja4h, ja4q, httpv, tls, payload, c2, iids string
	var conf sql.NullFloat64
	if err := sc.Scan(&i.UUID, &campaign, &first, &last, &created, &updated, &conf, &i.ObservationCount,
		&ja3, &hassh, &ja4h, &ja4q, &httpv, &tls, &payload, &c2, &iids, &simhash, &merged, &i.Notes, &i.SchemaVersion, &ja4); err != nil {
		return i, err
	}
	i.CampaignID, i.KDDigraphSimhash, i.MergedIntoUUID = campaign.String, simhash.String, merged.String
	i.FirstSeenAt, i.LastSeenAt, i.Confidence = optTime(first), optTime(last), optFloat(conf)
	i.CreatedAt, i.UpdatedAt = parseTime(created), parseTime(updated)
	i.JA3Hashes, i.HASSHHashes, i.JA4HHashes, i.JA4QUICHashes = stringList(ja3), stringList(hassh), stringList(ja4h), stringList(ja4q)
	i.JA4Hashes = stringList(ja4)
	i.HTTPVersionsSeen, i.TLSCertSHA256, i.PayloadSimhashes, i.C2Endpoints = stringList(httpv), stringList(tls), stringList(payload), stringList(c2)
	i.IPv6LinkLocalIIDs = json.RawMessage(iids)
	return i, nil
}

// IdentityByUUID returns an identity, following merges (up to 8 hops) to
// the identity that absorbed it; ErrNotFound when there is none.
func (s *Store) IdentityByUUID(ctx context.Context, id string) (Identity, error) {
	for range maxMergeHops + 1 {
		i, err := scanIdentity(s.db.QueryRowContext(ctx, s.q("SELECT "+identityCols+" FROM attacker_identities WHERE uuid = ?"), id))
		if errors.Is(err, sql.ErrNoRows) {
			return i, ErrNotFound
		}
		if err != nil || i.MergedIntoUUID == "" {
			return i, err
		}
		id = i.MergedIntoUUID
	}
	return Identity{}, fmt.Errorf("store: identity merge chain from %s longer than %d", id, maxMergeHops)
}

// Identities lists the identities not merged into another, most recently
// updated first, with their total.
func (s *Store) Identities(ctx context.Context, limit, offset int) (rows []Identity, total int, err error) {
	if err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM attacker_identities WHERE merged_into_uuid IS NULL").Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("store: count identities: %w", err)
	}
	rows, err = selectAll(ctx, s, "list identities", "SELECT "+identityCols+
		" FROM attacker_identities WHERE merged_into_uuid IS NULL ORDER BY updated_at DESC, uuid LIMIT ? OFFSET ?", []any{limit, offset}, scanIdentity)
	return rows, total, err
}

// MergeIdentity records that identity loser is the same actor as winner
// (a soft pointer: its attackers and observations stay where they are).
func (s *Store) MergeIdentity(ctx context.Context, loser, winner string) error {
	if loser == winner {
		return fmt.Errorf("%w: identity %s merged into itself", ErrInvalid, loser)
	}
	return s.setRef(ctx, "UPDATE attacker_identities SET merged_into_uuid = ?, updated_at = ? WHERE uuid = ?", winner, loser)
}

// SetIdentityCampaign puts an identity in a campaign ("" takes it out).
func (s *Store) SetIdentityCampaign(ctx context.Context, identity, campaign string) error {
	return s.setRef(ctx, "UPDATE attacker_identities SET campaign_id = ?, updated_at = ? WHERE uuid = ?", campaign, identity)
}

func (s *Store) setRef(ctx context.Context, query, ref, id string) error {
	r, err := s.execWrite(ctx, s.q(query), nullStr(ref), fmtTime(time.Now()), id)
	if isForeignKey(err) {
		return fmt.Errorf("%w: %s does not exist", ErrNotFound, ref)
	}
	if err != nil {
		return err
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// CreateCampaign adds an empty campaign and returns its id.
func (s *Store) CreateCampaign(ctx context.Context, notes string) (string, error) {
	id, now := newUUID(), fmtTime(time.Now())
	_, err := s.execWrite(ctx, s.q("INSERT INTO campaigns (uuid, created_at, updated_at, notes) VALUES (?,?,?,?)"), id, now, now, notes)
	return id, err
}

const campaignCols = `uuid, first_seen_at, last_seen_at, created_at, updated_at, confidence, identity_count,
	ja3_hashes, hassh_hashes, tls_cert_sha256, payload_simhashes, c2_endpoints, merged_into_uuid, notes, schema_version`

func scanCampaign(sc interface{ Scan(...any) error }) (Campaign, error) {
	var c Campaign
	var first, last, merged sql.NullString
	var created, updated, ja3, hassh, tls, payload, c2 string
	var conf sql.NullFloat64
	if err := sc.Scan(&c.UUID, &first, &last, &created, &updated, &conf, &c.IdentityCount,
		&ja3, &hassh, &tls, &payload, &c2, &merged, &c.Notes, &c.SchemaVersion); err != nil {
		return c, err
	}
	c.FirstSeenAt, c.LastSeenAt, c.Confidence, c.MergedIntoUUID = optTime(first), optTime(last), optFloat(conf), merged.String
	c.CreatedAt, c.UpdatedAt = parseTime(created), parseTime(updated)
	c.JA3Hashes, c.HASSHHashes, c.TLSCertSHA256 = stringList(ja3), stringList(hassh), stringList(tls)
	c.PayloadSimhashes, c.C2Endpoints = stringList(payload), stringList(c2)
	return c, nil
}

// CampaignByUUID returns a campaign, following merges (up to 8 hops);
// ErrNotFound when there is none.
func (s *Store) CampaignByUUID(ctx context.Context, id string) (Campaign, error) {
	for range maxMergeHops + 1 {
		c, err := scanCampaign(s.db.QueryRowContext(ctx, s.q("SELECT "+campaignCols+" FROM campaigns WHERE uuid = ?"), id))
		if errors.Is(err, sql.ErrNoRows) {
			return c, ErrNotFound
		}
		if err != nil || c.MergedIntoUUID == "" {
			return c, err
		}
		id = c.MergedIntoUUID
	}
	return Campaign{}, fmt.Errorf("store: campaign merge chain from %s longer than %d", id, maxMergeHops)
}

// Campaigns lists the campaigns not merged into another, most recently
// updated first, with their total.
func (s *Store) Campaigns(ctx context.Context, limit, offset int) (rows []Campaign, total int, err error) {
	if err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM campaigns WHERE merged_into_uuid IS NULL").Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("store: count campaigns: %w", err)
	}
	rs, err := s.db.QueryContext(ctx, s.q("SELECT "+campaignCols+
		" FROM campaigns WHERE merged_into_uuid IS NULL ORDER BY updated_at DESC, uuid LIMIT ? OFFSET ?"), limit, offset)
	if err != nil {
		return nil, 0, fmt.Errorf("store: list campaigns: %w", err)
	}
	defer rs.Close()
	rows = []Campaign{}
	for rs.Next() {
		c, err := scanCampaign(rs)
		if err != nil {
			return nil, 0, err
		}
		rows = append(rows, c)
	}
	return rows, total, rs.Err()
}

// IdentitiesOfCampaign lists the identities in a campaign, most recently
// updated first.
func (s *Store) IdentitiesOfCampaign(ctx context.Context, campaign string) ([]Identity, error) {
	rs, err := s.db.QueryContext(ctx, s.q("SELECT "+identityCols+
		" FROM attacker_identities WHERE campaign_id = ? ORDER BY updated_at DESC, uuid"), campaign)
	if err != nil {
		return nil, fmt.Errorf("store: identities of campaign %s: %w", campaign, err)
	}
	defer rs.Close()
	rows := []Identity{}
	for rs.Next() {
		i, err := scanIdentity(rs)
		if err != nil {
			return nil, err
		}
		rows = append(rows, i)
	}
	return rows, rs.Err()
}
