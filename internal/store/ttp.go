package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Tag is one ATT&CK technique attributed to one source record (a command,
// an intel hit, a mail, …) by one rule. It is anchored on an attacker, an
// identity or both.
type Tag struct {
	UUID           string          `json:"uuid"` // TagID of the six identifying fields
	SourceKind     string          `json:"source_kind"`
	SourceID       string          `json:"source_id"`
	AttackerUUID   string          `json:"attacker_uuid,omitempty"`
	IdentityUUID   string          `json:"identity_uuid,omitempty"`
	SessionID      string          `json:"session_id,omitempty"`
	DeckyID        string          `json:"decky_id,omitempty"`
	Tactic         string          `json:"tactic"`
	TechniqueID    string          `json:"technique_id"`
	SubTechniqueID string          `json:"sub_technique_id,omitempty"`
	Confidence     float64         `json:"confidence"`
	RuleID         string          `json:"rule_id"`
	RuleVersion    int             `json:"rule_version"`
	Evidence       json.RawMessage `json:"evidence"`
	AttackRelease  string          `json:"attack_release"`
	MitreURL       string          `json:"mitre_url,omitempty"`
	CreatedAt      time.Time       `json:"created_at"`
}

// TagConfidenceFloor is the confidence below which a tag is not stored.
const TagConfidenceFloor = 0.3

// tagNamespace is uuid5(NAMESPACE_URL, "decnet:ttp_tag:v1"), DECNET's.
var tagNamespace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("decnet:ttp_tag:v1"))

// TagID is the deterministic id of a tag: a UUIDv5 over the six fields
// that identify it, as DECNET computes it, so re-tagging the same record
// with the same rule is idempotent and ids match across installs.
func TagID(sourceKind, sourceID, ruleID string, ruleVersion int, techniqueID, subTechniqueID string) string {
	name := strings.Join([]string{sourceKind, sourceID, ruleID, strconv.Itoa(ruleVersion), techniqueID, subTechniqueID}, "|")
	return uuid.NewSHA1(tagNamespace, []byte(name)).String()
}

func newUUID() string { return uuid.NewString() }

// ErrNoAnchor is returned for a tag with neither an attacker nor an
// identity. The schema's CHECK says the same, but old MySQL ignores CHECK.
var ErrNoAnchor = fmt.Errorf("%w: ttp tag needs attacker_uuid or identity_uuid", ErrInvalid)

// InsertTag stores a tag unless one with the same id exists, and reports
// whether it was new. A tag under TagConfidenceFloor is not stored (false,
// nil). An empty UUID is computed with TagID, an empty CreatedAt is now,
// empty Evidence is {}.
func (s *Store) InsertTag(ctx context.Context, t Tag) (bool, error) {
	if err := t.check(); err != nil {
		return false, err
	}
	if t.Confidence < TagConfidenceFloor {
		return false, nil
	}
	if err := t.normalise(); err != nil {
		return false, err
	}
	r, err := s.execWrite(ctx, s.q(`INSERT INTO ttp_tag (uuid, source_kind, source_id, attacker_uuid, identity_uuid,
		session_id, decky_id, tactic, technique_id, sub_technique_id, confidence, rule_id, rule_version, evidence,
		attack_release, mitre_url, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
		ON CONFLICT (uuid) DO NOTHING`), t.args()...)
	if isForeignKey(err) {
		return false, fmt.Errorf("%w: ttp tag anchor does not exist", ErrNotFound)
	}
	if err != nil {
		return false, fmt.Errorf("store: insert ttp tag %s: %w", t.UUID, err)
	}
	n, err := r.RowsAffected()
	return n == 1, err
}

// check validates a tag the way the schema's CHECKs would.
func (t *Tag) check() error {
	switch {
	case t.AttackerUUID == "" && t.IdentityUUID == "":
		return ErrNoAnchor
	case t.SourceKind == "" || t.SourceID == "" || t.TechniqueID == "" || t.RuleID == "" || t.AttackRelease == "":
		return fmt.Errorf("%w: ttp tag needs source_kind, source_id, technique_id, rule_id and attack_release", ErrInvalid)
	case t.Confidence < 0 || t.Confidence > 1:
		return fmt.Errorf("%w: ttp tag confidence %v outside [0, 1]", ErrInvalid, t.Confidence)
	}
	return nil
}

// normalise fills the defaults of a checked tag: {} evidence, the TagID,
// now as the creation time.
func (t *Tag) normalise() error {
	if len(t.Evidence) == 0 {
		t.Evidence = json.RawMessage("{}")
	}
	if !json.Valid(t.Evidence) {
		return fmt.Errorf("%w: ttp tag evidence is not JSON", ErrInvalid)
	}
	if t.UUID == "" {
		t.UUID = TagID(t.SourceKind, t.SourceID, t.RuleID, t.RuleVersion, t.TechniqueID, t.SubTechniqueID)
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = time.Now()
	}
	return nil
}

func (t *Tag) args() []any {
	return []any{t.UUID, t.SourceKind, t.SourceID, nullStr(t.AttackerUUID), nullStr(t.IdentityUUID), nullStr(t.SessionID),
		nullStr(t.DeckyID), t.Tactic, t.TechniqueID, nullStr(t.SubTechniqueID), t.Confidence, t.RuleID, t.RuleVersion,
		string(t.Evidence), t.AttackRelease, nullStr(t.MitreURL), fmtTime(t.CreatedAt)}
}

// InsertTags stores many tags in one transaction, skipping those whose id
// is already stored (or repeated in tags), and returns the ids of the rows
// it added, in the order of tags. It checks every tag as InsertTag does
// (any invalid tag fails the whole call, nothing stored); tags under
// TagConfidenceFloor are skipped. It is the batch path of the TTP worker:
// multi-row insert-or-ignore statements per call, instead of one statement
// per tag.
//
// Usually every tag is new, and the statements' row counts say so without
// reading anything. When they fall short (a redelivery: some tags are
// stored already) the transaction is rolled back and the batch done again
// after a lookup of the stored ids, which tells new rows from old ones
// without RETURNING.
//
// A tag whose anchor row does not exist fails the call with ErrNotFound;
// callers fall back to InsertTag to isolate it.
func (s *Store) InsertTags(ctx context.Context, tags []Tag) ([]string, error) {
	keep := make([]Tag, 0, len(tags))
	seen := make(map[string]bool, len(tags))
	for _, t := range tags {
		if err := t.check(); err != nil {
			return nil, err
		}
		if t.Confidence < TagConfidenceFloor {
			continue
		}
		if err := t.normalise(); err != nil {
			return nil, err
		}
		if !seen[t.UUID] {
			seen[t.UUID] = true
			keep = append(keep, t)
		}
	}
	if len(keep) == 0 {
		return nil, nil
	}
	done, err := s.writeTags(ctx, keep, true)
	if err != nil {
		return nil, err
	}
	if done {
		return tagIDs(keep), nil
	}
	stored, err := s.storedTags(ctx, keep)
	if err != nil {
		return nil, err
	}
	fresh := slices.DeleteFunc(keep, func(t Tag) bool { return stored[t.UUID] })
	if len(fresh) == 0 {
		return nil, nil
	}
	if _, err := s.writeTags(ctx, fresh, false); err != nil {
		return nil, err
	}
	return tagIDs(fresh), nil
}

// writeTags inserts tags, skipping stored ids, in one transaction. With
// allNew it commits only when every tag was added, and reports whether it
// did; otherwise it commits whatever was added.
func (s *Store) writeTags(ctx context.Context, tags []Tag, allNew bool) (committed bool, err error) {
	rows := make([][]any, len(tags))
	for i := range tags {
		rows[i] = tags[i].args()
	}
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return false, fmt.Errorf("store: begin tag batch: %w", err)
	}
	defer tx.Rollback()
	n, err := s.writeRows(ctx, tx.Tx, `INSERT INTO ttp_tag (uuid, source_kind, source_id, attacker_uuid, identity_uuid,
		session_id, decky_id, tactic, technique_id, sub_technique_id, confidence, rule_id, rule_version, evidence,
		attack_release, mitre_url, created_at)`, "ON CONFLICT (uuid) DO NOTHING", rows)
	if isForeignKey(err) {
		return false, fmt.Errorf("%w: ttp tag anchor does not exist", ErrNotFound)
	}
	if err != nil {
		return false, fmt.Errorf("store: insert %d ttp tags: %w", len(rows), err)
	}
	if allNew && int(n) != len(tags) {
		return false, nil
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("store: commit tag batch: %w", err)
	}
	return true, nil
}

// storedTags is the set of the tags' ids already stored.
func (s *Store) storedTags(ctx context.Context, tags []Tag) (map[string]bool, error) {
	stored := map[string]bool{}
	for start := 0; start < len(tags); start += 500 {
		part := tags[start:min(start+500, len(tags))]
		args := make([]any, len(part))
		for i := range part {
			args[i] = part[i].UUID
		}
		rs, err := s.cachedQuery(ctx, "SELECT uuid FROM ttp_tag WHERE uuid IN ("+placeholders(len(part), 1)+")", args...)
		if err != nil {
			return nil, fmt.Errorf("store: tag batch lookup: %w", err)
		}
		for rs.Next() {
			var id string
			if err := rs.Scan(&id); err != nil {
				rs.Close()
				return nil, err
			}
			stored[id] = true
		}
		rs.Close()
		if err := rs.Err(); err != nil {
			return nil, err
		}
	}
	return stored, nil
}

func tagIDs(tags []Tag) []string {
	ids := make([]string, len(tags))
	for i := range tags {
		ids[i] = tags[i].UUID
	}
	return ids
}

// Tag scopes of TagsByScopeAndTechnique.
const (
	ScopeIdentity = "identity" // tags on the identity or on any of its attackers
	ScopeAttacker = "attacker"
	ScopeSession  = "session"
)

// ErrScope is returned for a tag scope other than identity, attacker or
// session.
var ErrScope = fmt.Errorf("%w: tag scope must be identity, attacker or session", ErrInvalid)

const tagCols = `uuid, source_kind, source_id, attacker_uuid, identity_uuid, session_id, decky_id, tactic, technique_id,
	sub_technique_id, confidence, rule_id, rule_version, evidence, attack_release, mitre_url, created_at`

// TagsByScopeAndTechnique lists the tags of one technique (and, when
// subTechniqueID is set, one sub-technique) in a scope, newest first, at
// most limit (200 when limit ≤ 0).
func (s *Store) TagsByScopeAndTechnique(ctx context.Context, scope, id, techniqueID, subTechniqueID string, limit int) ([]Tag, error) {
	w := &where{}
	switch scope {
	case ScopeIdentity:
		w.add("(identity_uuid = ? OR attacker_uuid IN (SELECT uuid FROM attackers WHERE identity_id = ?))", id, id)
	case ScopeAttacker:
		w.add("attacker_uuid = ?", id)
	case ScopeSession:
		w.add("session_id = ?", id)
	default:
		return nil, ErrScope
	}
	w.add("technique_id = ?", techniqueID)
	if subTechniqueID != "" {
		w.add("sub_technique_id = ?", subTechniqueID)
	}
	if limit <= 0 {
		limit = 200
	}
	return s.tagsWhere(ctx, w, limit, scope+" "+id)
}

// tagsWhere lists the tags w keeps, newest first, at most limit.
func (s *Store) tagsWhere(ctx context.Context, w *where, limit int, what string) ([]Tag, error) {
	return selectAll(ctx, s, "tags of "+what, "SELECT "+tagCols+" FROM ttp_tag"+w.String()+" ORDER BY created_at DESC, uuid LIMIT ?",
		append(w.args, limit), scanTag)
}

func scanTag(sc interface{ Scan(...any) error }) (Tag, error) {
	var t Tag
	var attacker, identity, session, decky, sub, url sql.NullString
	var evidence, created string
	err := sc.Scan(&t.UUID, &t.SourceKind, &t.SourceID, &attacker, &identity, &session, &decky, &t.Tactic, &t.TechniqueID,
		&sub, &t.Confidence, &t.RuleID, &t.RuleVersion, &evidence, &t.AttackRelease, &url, &created)
	t.AttackerUUID, t.IdentityUUID, t.SessionID, t.DeckyID = attacker.String, identity.String, session.String, decky.String
	t.SubTechniqueID, t.MitreURL = sub.String, url.String
	t.Evidence, t.CreatedAt = json.RawMessage(evidence), parseTime(created)
	return t, err
}

// TagByUUID returns one tag, or ErrNotFound.
func (s *Store) TagByUUID(ctx context.Context, id string) (Tag, error) {
	t, err := scanTag(s.db.QueryRowContext(ctx, s.q("SELECT "+tagCols+" FROM ttp_tag WHERE uuid = ?"), id))
	if errors.Is(err, sql.ErrNoRows) {
		return t, ErrNotFound
	}
	return t, err
}
