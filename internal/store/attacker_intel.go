package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// AttackerIntel is what the per-address intelligence providers and the
// GeoIP/ASN databases said about one attacker's address (data-api.md §1.3
// attacker_intel). One row per attacker. A provider's fields are nil when
// it never answered; its QueriedAt says when it last did.
type AttackerIntel struct {
	UUID          string `json:"uuid"`
	AttackerUUID  string `json:"attacker_uuid"`
	AttackerIP    string `json:"attacker_ip"`
	SchemaVersion int    `json:"schema_version"`

	GreyNoise *GreyNoiseIntel `json:"greynoise"`
	AbuseIPDB *AbuseIPDBIntel `json:"abuseipdb"`
	Feodo     *FeodoIntel     `json:"feodo"`
	ThreatFox *ThreatFoxIntel `json:"threatfox"`
	// Raw holds each provider's last answer as received, by provider name.
	Raw map[string]json.RawMessage `json:"raw"`

	CountryCode string `json:"country_code,omitempty"`
	ASN         int64  `json:"asn,omitempty"`
	ASName      string `json:"as_name,omitempty"`
	ASNSource   string `json:"asn_source,omitempty"`

	// AggregateVerdict is the strongest verdict of the last pass
	// (malicious, suspicious, benign, unknown); "" when no provider had a
	// record of the address.
	AggregateVerdict string    `json:"aggregate_verdict"`
	CachedAt         time.Time `json:"cached_at"`
	ExpiresAt        time.Time `json:"expires_at"`
}

// GreyNoiseIntel is GreyNoise's answer.
type GreyNoiseIntel struct {
	Classification string    `json:"classification"`
	Name           string    `json:"name"`
	Tags           []string  `json:"tags"`
	QueriedAt      time.Time `json:"queried_at"`
}

// AbuseIPDBIntel is AbuseIPDB's answer.
type AbuseIPDBIntel struct {
	Score      int       `json:"score"`
	Categories []int     `json:"categories"`
	QueriedAt  time.Time `json:"queried_at"`
}

// FeodoIntel is the Feodo Tracker blocklist's answer.
type FeodoIntel struct {
	Listed        bool      `json:"listed"`
	MalwareFamily string    `json:"malware_family"`
	QueriedAt     time.Time `json:"queried_at"`
}

// ThreatFoxIntel is ThreatFox's answer.
type ThreatFoxIntel struct {
	Listed          bool      `json:"listed"`
	ThreatTypes     []string  `json:"threat_types"`
	IOCTypes        []string  `json:"ioc_types"`
	MalwareFamilies []string  `json:"malware_families"`
	QueriedAt       time.Time `json:"queried_at"`
}

const attackerIntelCols = `uuid, attacker_uuid, attacker_ip, schema_version,
	greynoise_classification, greynoise_name, greynoise_tags, greynoise_queried_at,
	abuseipdb_score, abuseipdb_categories, abuseipdb_queried_at,
	feodo_listed, feodo_malware_family, feodo_queried_at,
	threatfox_listed, threatfox_threat_types, threatfox_ioc_types, threatfox_malware_families, threatfox_queried_at,
	raw, country_code, asn, as_name, asn_source, aggregate_verdict, cached_at, expires_at`

// UpsertAttackerIntel stores the outcome of one enrichment pass, keyed on
// the attacker. Providers nil in in (they failed this pass) keep what the
// row held; Raw entries merge by provider; the location is kept when in
// has none. AggregateVerdict, CachedAt and ExpiresAt always take in's.
// ErrNotFound when the attacker does not exist.
func (s *Store) UpsertAttackerIntel(ctx context.Context, in AttackerIntel) error {
	if in.AttackerUUID == "" || in.ExpiresAt.IsZero() {
		return fmt.Errorf("%w: attacker intel needs an attacker and an expiry", ErrInvalid)
	}
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	old, err := scanAttackerIntel(tx.QueryRowContext(ctx, s.q("SELECT "+attackerIntelCols+" FROM attacker_intel WHERE attacker_uuid = ?"), in.AttackerUUID))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		old = AttackerIntel{UUID: hexID()}
	case err != nil:
		return fmt.Errorf("store: intel of %s: %w", in.AttackerUUID, err)
	}
	m := mergeIntel(old, in)
	if m.CachedAt.IsZero() {
		m.CachedAt = time.Now()
	}
	raw, _ := json.Marshal(m.Raw)
	gn, ab, fe, tf := m.GreyNoise, m.AbuseIPDB, m.Feodo, m.ThreatFox
	args := []any{m.UUID, m.AttackerUUID, m.AttackerIP}
	if gn != nil {
		args = append(args, gn.Classification, gn.Name, encodeStrings(gn.Tags), fmtTime(gn.QueriedAt))
	} else {
		args = append(args, nil, nil, "[]", nil)
	}
	if ab != nil {
		cats, _ := json.Marshal(orEmptyInts(ab.Categories))
		args = append(args, ab.Score, string(cats), fmtTime(ab.QueriedAt))
	} else {
		args = append(args, nil, "[]", nil)
	}
	if fe != nil {
		args = append(args, boolInt(fe.Listed), fe.MalwareFamily, fmtTime(fe.QueriedAt))
	} else {
		args = append(args, nil, nil, nil)
	}
	if tf != nil {
		args = append(args, boolInt(tf.Listed), encodeStrings(tf.ThreatTypes), encodeStrings(tf.IOCTypes), encodeStrings(tf.MalwareFamilies), fmtTime(tf.QueriedAt))
	} else {
		args = append(args, nil, "[]", "[]", "[]", nil)
	}
	var asn any
	if m.ASN != 0 {
		asn = m.ASN
	}
	args = append(args, string(raw), nullStr(m.CountryCode), asn, nullStr(m.ASName), nullStr(m.ASNSource),
		nullStr(m.AggregateVerdict), fmtTime(m.CachedAt), fmtTime(m.ExpiresAt))
	_, err = tx.ExecContext(ctx, s.q(`INSERT INTO attacker_intel (uuid, attacker_uuid, attacker_ip,
		greynoise_classification, greynoise_name, greynoise_tags, greynoise_queried_at,
		abuseipdb_score, abuseipdb_categories, abuseipdb_queried_at,
		feodo_listed, feodo_malware_family, feodo_queried_at,
		threatfox_listed, threatfox_threat_types, threatfox_ioc_types, threatfox_malware_families, threatfox_queried_at,
		raw, country_code, asn, as_name, asn_source, aggregate_verdict, cached_at, expires_at)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
		ON CONFLICT (attacker_uuid) DO UPDATE SET attacker_ip = excluded.attacker_ip,
		greynoise_classification = excluded.greynoise_classification, greynoise_name = excluded.greynoise_name,
		greynoise_tags = excluded.greynoise_tags, greynoise_queried_at = excluded.greynoise_queried_at,
		abuseipdb_score = excluded.abuseipdb_score, abuseipdb_categories = excluded.abuseipdb_categories,
		abuseipdb_queried_at = excluded.abuseipdb_queried_at,
		feodo_listed = excluded.feodo_listed, feodo_malware_family = excluded.feodo_malware_family,
		feodo_queried_at = excluded.feodo_queried_at,
		threatfox_listed = excluded.threatfox_listed, threatfox_threat_types = excluded.threatfox_threat_types,
		threatfox_ioc_types = excluded.threatfox_ioc_types, threatfox_malware_families = excluded.threatfox_malware_families,
		threatfox_queried_at = excluded.threatfox_queried_at, raw = excluded.raw,
		country_code = excluded.country_code, asn = excluded.asn, as_name = excluded.as_name, asn_source = excluded.asn_source,
		aggregate_verdict = excluded.aggregate_verdict, cached_at = excluded.cached_at, expires_at = excluded.expires_at`), args...)
	if isForeignKey(err) {
		return fmt.Errorf("%w: attacker %s", ErrNotFound, in.AttackerUUID)
	}
	if err != nil {
		return fmt.Errorf("store: upsert intel of %s: %w", in.AttackerUUID, err)
	}
	return tx.Commit()
}

// mergeIntel lays a new pass over the stored row: what in lacks, old keeps.
func mergeIntel(old, in AttackerIntel) AttackerIntel {
	m := in
	m.UUID = old.UUID
	if m.AttackerIP == "" {
		m.AttackerIP = old.AttackerIP
	}
	if m.GreyNoise == nil {
		m.GreyNoise = old.GreyNoise
	}
	if m.AbuseIPDB == nil {
		m.AbuseIPDB = old.AbuseIPDB
	}
	if m.Feodo == nil {
		m.Feodo = old.Feodo
	}
	if m.ThreatFox == nil {
		m.ThreatFox = old.ThreatFox
	}
	m.Raw = map[string]json.RawMessage{}
	for k, v := range old.Raw {
		m.Raw[k] = v
	}
	for k, v := range in.Raw {
		if json.Valid(v) {
			m.Raw[k] = v
		}
	}
	if m.CountryCode == "" && m.ASN == 0 {
		m.CountryCode, m.ASN, m.ASName, m.ASNSource = old.CountryCode, old.ASN, old.ASName, old.ASNSource
	}
	return m
}

func orEmptyInts(l []int) []int {
	if l == nil {
		return []int{}
	}
	return l
}

func scanAttackerIntel(sc scanner) (AttackerIntel, error) {
	var a AttackerIntel
	var gnClass, gnName, gnAt, abAt, feFamily, feAt, tfAt sql.NullString
	var cc, asName, asnSource, verdict sql.NullString
	var gnTags, abCats, tfThreat, tfIOC, tfFam, raw, cached, expires string
	var abScore, feListed, tfListed, asn sql.NullInt64
	if err := sc.Scan(&a.UUID, &a.AttackerUUID, &a.AttackerIP, &a.SchemaVersion,
		&gnClass, &gnName, &gnTags, &gnAt, &abScore, &abCats, &abAt, &feListed, &feFamily, &feAt,
		&tfListed, &tfThreat, &tfIOC, &tfFam, &tfAt, &raw, &cc, &asn, &asName, &asnSource, &verdict, &cached, &expires); err != nil {
		return a, err
	}
	if gnAt.Valid {
		a.GreyNoise = &GreyNoiseIntel{Classification: gnClass.String, Name: gnName.String, Tags: stringList(gnTags), QueriedAt: parseTime(gnAt.String)}
	}
	if abAt.Valid {
		a.AbuseIPDB = &AbuseIPDBIntel{Score: int(abScore.Int64), QueriedAt: parseTime(abAt.String)}
		json.Unmarshal([]byte(abCats), &a.AbuseIPDB.Categories)
		a.AbuseIPDB.Categories = orEmptyInts(a.AbuseIPDB.Categories)
	}
	if feAt.Valid {
		a.Feodo = &FeodoIntel{Listed: feListed.Int64 != 0, MalwareFamily: feFamily.String, QueriedAt: parseTime(feAt.String)}
	}
	if tfAt.Valid {
		a.ThreatFox = &ThreatFoxIntel{Listed: tfListed.Int64 != 0, ThreatTypes: stringList(tfThreat), IOCTypes: stringList(tfIOC),
			MalwareFamilies: stringList(tfFam), QueriedAt: parseTime(tfAt.String)}
	}
	a.Raw = map[string]json.RawMessage{}
	json.Unmarshal([]byte(raw), &a.Raw)
	a.CountryCode, a.ASN, a.ASName, a.ASNSource = cc.String, asn.Int64, asName.String, asnSource.String
	a.AggregateVerdict, a.CachedAt, a.ExpiresAt = verdict.String, parseTime(cached), parseTime(expires)
	return a, nil
}

// AttackerIntel returns the intel row of an attacker, or ErrNotFound when
// it has never been enriched.
func (s *Store) AttackerIntel(ctx context.Context, attackerUUID string) (AttackerIntel, error) {
	a, err := scanAttackerIntel(s.db.QueryRowContext(ctx, s.q("SELECT "+attackerIntelCols+" FROM attacker_intel WHERE attacker_uuid = ?"), attackerUUID))
	if errors.Is(err, sql.ErrNoRows) {
		return a, ErrNotFound
	}
	return a, err
}

// ExpiredIntelAddresses lists up to limit addresses whose intel expired
// before now, the longest expired first: what to enrich again.
func (s *Store) ExpiredIntelAddresses(ctx context.Context, now time.Time, limit int) ([]string, error) {
	return selectAll(ctx, s, "expired intel", "SELECT attacker_ip FROM attacker_intel WHERE expires_at < ? ORDER BY expires_at LIMIT ?",
		[]any{fmtTime(now), limit}, func(sc scanner) (string, error) {
			var ip string
			err := sc.Scan(&ip)
			return ip, err
		})
}
