package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// AttachmentSighting is one mail attachment seen on a decky.
type AttachmentSighting struct {
	SHA256       string
	DeckyUUID    string
	AttackerUUID string
	Extension    string // without the dot; lower-cased when stored
	Subject      string
	// MalHashMatch is the verdict of a hash lookup: nil when none was made.
	MalHashMatch *bool
	Provider     string // who gave the verdict
	Time         time.Time
}

// ObservedAttachment is what the store knows about one attachment hash.
type ObservedAttachment struct {
	UUID                  string     `json:"uuid"`
	SHA256                string     `json:"sha256"`
	FirstSeen             time.Time  `json:"first_seen"`
	LastSeen              time.Time  `json:"last_seen"`
	ObservationCount      int        `json:"observation_count"`
	FirstSeenDeckyUUID    string     `json:"first_seen_decky_uuid"`
	FirstSeenAttackerUUID string     `json:"first_seen_attacker_uuid"`
	LastSeenAttackerUUID  string     `json:"last_seen_attacker_uuid"`
	Extensions            []string   `json:"extensions"`
	FirstSubject          string     `json:"first_subject"`
	MalHashMatch          *bool      `json:"mal_hash_match"`
	MalHashMatchProvider  string     `json:"mal_hash_match_provider"`
	MalHashMatchAt        *time.Time `json:"mal_hash_match_at"`
}

// UpsertObservedAttachment records a sighting of an attachment and returns
// the row's id: a new hash gets a row with count 1; a known one counts up,
// moves last_seen and the last attacker, and gains the extension. The
// verdict is sticky: an unknown verdict takes what is given, a benign one
// only turns malicious, and a malicious one never changes again (nor its
// provider and time).
func (s *Store) UpsertObservedAttachment(ctx context.Context, a AttachmentSighting) (string, error) {
	a.SHA256, a.Extension = strings.ToLower(a.SHA256), strings.ToLower(strings.TrimPrefix(a.Extension, "."))
	if len(a.SHA256) != 64 {
		return "", fmt.Errorf("%w: attachment sha256 %q", ErrInvalid, a.SHA256)
	}
	if a.Time.IsZero() {
		a.Time = time.Now()
	}
	at := fmtTime(a.Time)
	var verdict, verdictAt, provider any // NULL unless a verdict is given
	if a.MalHashMatch != nil {
		verdict, verdictAt, provider = boolInt(*a.MalHashMatch), at, a.Provider
	}
	for attempt := 0; ; attempt++ {
		tx, err := s.beginWrite(ctx)
		if err != nil {
			return "", err
		}
		id, err := s.upsertAttachment(ctx, tx.Tx, a, at, verdict, verdictAt, provider)
		if err == nil {
			err = tx.Commit()
		}
		tx.Rollback()
		if isConflict(err) && attempt == 0 {
			continue // a concurrent first sighting won the insert: update it instead
		}
		return id, err
	}
}

func (s *Store) upsertAttachment(ctx context.Context, tx *sql.Tx, a AttachmentSighting, at string, verdict, verdictAt, provider any) (string, error) {
	var id, ext string
	err := tx.QueryRowContext(ctx, s.q("SELECT uuid, extensions FROM observed_attachments WHERE sha256 = ?"), a.SHA256).Scan(&id, &ext)
	if errors.Is(err, sql.ErrNoRows) {
		id = newUUID()
		exts, _ := json.Marshal(appendNew([]string{}, a.Extension))
		_, err = tx.ExecContext(ctx, s.q(`INSERT INTO observed_attachments (uuid, sha256, first_seen, last_seen,
			observation_count, first_seen_decky_uuid, first_seen_attacker_uuid, last_seen_attacker_uuid, extensions,
			first_subject, mal_hash_match, mal_hash_match_provider, mal_hash_match_at) VALUES (?,?,?,?,1,?,?,?,?,?,?,?,?)`),
			id, a.SHA256, at, at, a.DeckyUUID, a.AttackerUUID, a.AttackerUUID, string(exts), a.Subject,
			verdict, provider, verdictAt)
		return id, err
	}
	if err != nil {
		return "", err
	}
	exts, _ := json.Marshal(appendNew(stringList(ext), a.Extension))
	_, err = tx.ExecContext(ctx, s.q(`UPDATE observed_attachments SET observation_count = observation_count + 1,
		last_seen = CASE WHEN last_seen > ? THEN last_seen ELSE ? END, last_seen_attacker_uuid = ?, extensions = ?
		WHERE uuid = ?`), at, at, a.AttackerUUID, string(exts), id)
	if err != nil || verdict == nil {
		return id, err
	}
	// Provider and time first: MySQL evaluates SET left to right, and
	// these must see the verdict as it was.
	_, err = tx.ExecContext(ctx, s.q(`UPDATE observed_attachments SET
		mal_hash_match_provider = CASE WHEN mal_hash_match = 1 OR (mal_hash_match = 0 AND ? = 0) THEN mal_hash_match_provider ELSE ? END,
		mal_hash_match_at = CASE WHEN mal_hash_match = 1 OR (mal_hash_match = 0 AND ? = 0) THEN mal_hash_match_at ELSE ? END,
		mal_hash_match = CASE WHEN mal_hash_match = 1 THEN 1 ELSE ? END
		WHERE uuid = ?`), verdict, provider, verdict, verdictAt, verdict, id)
	return id, err
}

// ObservedAttachment returns what is known of an attachment hash, or
// ErrNotFound.
func (s *Store) ObservedAttachment(ctx context.Context, sha256 string) (ObservedAttachment, error) {
	var o ObservedAttachment
	var first, last, ext string
	var verdict sql.NullInt64
	var provider, vat sql.NullString
	err := s.db.QueryRowContext(ctx, s.q(`SELECT uuid, sha256, first_seen, last_seen, observation_count,
		first_seen_decky_uuid, first_seen_attacker_uuid, last_seen_attacker_uuid, extensions, first_subject,
		mal_hash_match, mal_hash_match_provider, mal_hash_match_at FROM observed_attachments WHERE sha256 = ?`),
		strings.ToLower(sha256)).Scan(&o.UUID, &o.SHA256, &first, &last, &o.ObservationCount, &o.FirstSeenDeckyUUID,
		&o.FirstSeenAttackerUUID, &o.LastSeenAttackerUUID, &ext, &o.FirstSubject, &verdict, &provider, &vat)
	if errors.Is(err, sql.ErrNoRows) {
		return o, ErrNotFound
	}
	o.FirstSeen, o.LastSeen, o.Extensions = parseTime(first), parseTime(last), stringList(ext)
	if verdict.Valid {
		v := verdict.Int64 == 1
		o.MalHashMatch = &v
	}
	o.MalHashMatchProvider, o.MalHashMatchAt = provider.String, optTime(vat)
	return o, err
}
