package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Reads of the dashboard's attacker page that the other files lack: each
// is bounded by a limit and served by an index on the attacker.

// ProbeFingerprint is the newest hash the active prober got from one port
// of an attacker with one probe (jarm, hassh, tcpfp), and how often that
// hash changed.
type ProbeFingerprint struct {
	Port          int       `json:"port"`
	ProbeType     string    `json:"probe_type"`
	Hash          string    `json:"last_hash"`
	LastSeen      time.Time `json:"last_seen"`
	RotationCount int       `json:"rotation_count"`
}

// AttackerProbeFingerprints lists up to limit of the prober's fingerprints
// of an attacker, by probe type then port. It reads the (attacker, port,
// probe type) unique index.
func (s *Store) AttackerProbeFingerprints(ctx context.Context, attackerUUID string, limit int) ([]ProbeFingerprint, error) {
	return selectAll(ctx, s, "probe fingerprints", `SELECT port, probe_type, last_hash, last_seen, rotation_count
		FROM attacker_fingerprint_state WHERE attacker_uuid = ? ORDER BY probe_type, port LIMIT ?`,
		[]any{attackerUUID, limit}, func(sc scanner) (ProbeFingerprint, error) {
			var f ProbeFingerprint
			var seen string
			err := sc.Scan(&f.Port, &f.ProbeType, &f.Hash, &seen, &f.RotationCount)
			f.LastSeen = parseTime(seen)
			return f, err
		})
}

// AttackerFingerprintsUpTo is AttackerFingerprints cut at limit rows.
func (s *Store) AttackerFingerprintsUpTo(ctx context.Context, attackerIP string, limit int) ([]AttackerFingerprint, error) {
	return s.fingerprints(ctx, "SELECT "+fingerprintCols+" FROM attacker_fingerprints WHERE attacker_ip = ?"+
		" ORDER BY fingerprint_type, first_seen, value LIMIT ?", attackerIP, limit)
}

// CapturedFile is one file an attacker left on a decky: a file it
// uploaded, a message it sent, or an attachment of that message. The
// verdict is the hash providers' (MalwareBazaar, …), from
// observed_attachments; nil when no provider answered for the hash.
type CapturedFile struct {
	SHA256    string    `json:"sha256"`
	Kind      string    `json:"kind"` // file, email or attachment
	Name      string    `json:"name"` // the file's path, or the message's subject
	Size      int64     `json:"size"` // 0 when unknown
	Decky     string    `json:"decky"`
	Service   string    `json:"service"`
	SessionID string    `json:"session_id"`
	Time      time.Time `json:"time"`
	// MalHashMatch and Provider are the verdict on the hash.
	MalHashMatch *bool  `json:"mal_hash_match"`
	Provider     string `json:"mal_hash_match_provider"`
}

// AttackerCapturedFiles lists the files an address left, newest first: the
// artifact bounties of the address (up to limit, by the bounty's address
// index), each message followed by its attachments, with the verdict of
// each hash read from observed_attachments by its unique sha256.
func (s *Store) AttackerCapturedFiles(ctx context.Context, attackerIP string, limit int) ([]CapturedFile, error) {
	type artifact struct {
		Type      string      `json:"artifact_type"`
		SHA256    string      `json:"sha256"`
		OrigPath  string      `json:"orig_path"`
		Size      json.Number `json:"size"`
		Subject   string      `json:"subject"`
		SessionID string      `json:"session_id"`
		Attached  []string    `json:"attachment_sha256s"`
	}
	bounties, err := selectAll(ctx, s, "captured files", `SELECT ts, decky, service, payload FROM bounty
		WHERE attacker_ip = ? AND bounty_type = ? ORDER BY ts DESC, id DESC LIMIT ?`,
		[]any{attackerIP, BountyArtifact, limit}, func(sc scanner) (CapturedFile, error) {
			var f CapturedFile
			var ts, payload string
			if err := sc.Scan(&ts, &f.Decky, &f.Service, &payload); err != nil {
				return f, err
			}
			f.Time, f.Name = parseTime(ts), payload // decoded below
			return f, nil
		})
	if err != nil {
		return nil, err
	}
	out := make([]CapturedFile, 0, len(bounties))
	for _, b := range bounties {
		var a artifact
		d := json.NewDecoder(strings.NewReader(b.Name))
		d.UseNumber()
		if d.Decode(&a) != nil || a.SHA256 == "" {
			continue
		}
		f := b
		f.SHA256, f.SessionID = strings.ToLower(a.SHA256), a.SessionID
		switch a.Type {
		case "email":
			f.Kind, f.Name = "email", a.Subject
		default:
			f.Kind, f.Name = "file", a.OrigPath
			f.Size, _ = a.Size.Int64()
		}
		out = append(out, f)
		for _, sha := range a.Attached {
			att := f
			att.Kind, att.SHA256, att.Size = "attachment", strings.ToLower(sha), 0
			out = append(out, att)
		}
	}
	if len(out) == 0 {
		return out, nil
	}
	return out, s.attachVerdicts(ctx, out)
}

// attachVerdicts fills the hash verdicts of files from observed_attachments.
func (s *Store) attachVerdicts(ctx context.Context, files []CapturedFile) error {
	seen := map[string]bool{}
	args := []any{}
	for _, f := range files {
		if !seen[f.SHA256] {
			seen[f.SHA256] = true
			args = append(args, f.SHA256)
		}
	}
	rows, err := selectAll(ctx, s, "attachment verdicts", `SELECT sha256, mal_hash_match, mal_hash_match_provider
		FROM observed_attachments WHERE sha256 IN (`+placeholders(len(args), 1)+`) AND mal_hash_match IS NOT NULL`,
		args, func(sc scanner) (CapturedFile, error) {
			var f CapturedFile
			var m sql.NullInt64
			var p sql.NullString
			err := sc.Scan(&f.SHA256, &m, &p)
			bad := m.Int64 == 1
			f.MalHashMatch, f.Provider = &bad, p.String
			return f, err
		})
	if err != nil {
		return fmt.Errorf("store: verdicts of captured files: %w", err)
	}
	by := make(map[string]CapturedFile, len(rows))
	for _, r := range rows {
		by[r.SHA256] = r
	}
	for i := range files {
		if v, ok := by[files[i].SHA256]; ok {
			files[i].MalHashMatch, files[i].Provider = v.MalHashMatch, v.Provider
		}
	}
	return nil
}
