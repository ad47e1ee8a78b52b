package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/decnet-go/decnet/internal/event"
)

// Page asks for one page of a list. Search, when set, narrows the list; what
// it matches depends on the list.
type Page struct {
	Limit  int
	Offset int
	Search string
	// AfterID, for events, lists only rows with a larger id, oldest first.
	AfterID int64
	// AttackerIP narrows a list to one source address.
	AttackerIP string
	// Service, Decky and Type narrow a list to one of each.
	Service, Decky, Type string
}

// EventRow is a stored event with its cursor id.
type EventRow struct {
	ID         int64             `json:"id"`
	EventID    string            `json:"event_id"`
	Time       time.Time         `json:"timestamp"`
	Decky      string            `json:"decky"`
	Service    string            `json:"service"`
	Type       string            `json:"event_type"`
	AttackerIP string            `json:"attacker_ip"`
	SrcPort    int               `json:"src_port"`
	DstIP      string            `json:"dst_ip"`
	DstPort    int               `json:"dst_port"`
	Proto      string            `json:"proto"`
	Session    string            `json:"session"`
	Fields     json.RawMessage   `json:"fields"`
	Credential *event.Credential `json:"credential,omitempty"`
}

// Event rebuilds the envelope of a stored row.
func (r EventRow) Event() event.Event {
	e := event.Event{ID: r.EventID, Time: r.Time, Decky: r.Decky, Service: r.Service, Type: r.Type,
		SrcIP: r.AttackerIP, SrcPort: r.SrcPort, DstIP: r.DstIP, DstPort: r.DstPort, Proto: r.Proto,
		Session: r.Session, Credential: r.Credential}
	json.Unmarshal(r.Fields, &e.Fields)
	return e
}

// Attacker is the profile of one source address.
type Attacker struct {
	UUID            string    `json:"uuid"`
	IP              string    `json:"ip"`
	FirstSeen       time.Time `json:"first_seen"`
	LastSeen        time.Time `json:"last_seen"`
	EventCount      int       `json:"event_count"`
	SessionCount    int       `json:"session_count"`
	CredentialCount int       `json:"credential_count"`
	CommandCount    int       `json:"command_count"`
	Services        []string  `json:"services"`
	Deckies         []string  `json:"deckies"`
	ServiceCount    int       `json:"service_count"`
	DeckyCount      int       `json:"decky_count"`
	UpdatedAt       time.Time `json:"updated_at"`
	// ThreatScore (0–100) and Profile come from the profile stage;
	// Profile is null until it has seen the attacker.
	ThreatScore int              `json:"threat_score"`
	Profile     *AttackerProfile `json:"profile"`
}

// Session is one connection of an attacker to a decky service.
type Session struct {
	ID           string     `json:"id"`
	AttackerIP   string     `json:"attacker_ip"`
	Decky        string     `json:"decky"`
	Service      string     `json:"service"`
	SrcPort      int        `json:"src_port"`
	StartedAt    time.Time  `json:"started_at"`
	LastSeen     time.Time  `json:"last_seen"`
	EndedAt      *time.Time `json:"ended_at"`
	EventCount   int        `json:"event_count"`
	CommandCount int        `json:"command_count"`
	LoginCount   int        `json:"login_count"`
	Username     string     `json:"username"`
	LoggedIn     bool       `json:"logged_in"`
}

// Credential is a deduplicated captured secret.
type Credential struct {
	ID              int64     `json:"id"`
	AttackerIP      string    `json:"attacker_ip"`
	Decky           string    `json:"decky_name"`
	Service         string    `json:"service"`
	Principal       string    `json:"principal"`
	SecretKind      string    `json:"secret_kind"`
	SecretSHA256    string    `json:"secret_sha256"`
	SecretB64       string    `json:"secret_b64"`
	SecretPrintable string    `json:"secret_printable"`
	Outcome         string    `json:"outcome"`
	FirstSeen       time.Time `json:"first_seen"`
	LastSeen        time.Time `json:"last_seen"`
	AttemptCount    int       `json:"attempt_count"`
}

// Command is one command an attacker ran.
type Command struct {
	EventID string    `json:"event_id"`
	Time    time.Time `json:"timestamp"`
	Decky   string    `json:"decky"`
	Service string    `json:"service"`
	Session string    `json:"session"`
	Command string    `json:"command"`
	User    string    `json:"username,omitempty"`
	Cwd     string    `json:"cwd,omitempty"`
}

const eventCols = `id, event_id, ts, decky, service, event_type, attacker_ip, src_port, dst_ip, dst_port, proto, session, fields, credential`

func scanEvent(sc interface{ Scan(...any) error }) (EventRow, error) {
	var r EventRow
	var ts, fields string
	var cred sql.NullString
	if err := sc.Scan(&r.ID, &r.EventID, &ts, &r.Decky, &r.Service, &r.Type, &r.AttackerIP, &r.SrcPort,
		&r.DstIP, &r.DstPort, &r.Proto, &r.Session, &fields, &cred); err != nil {
		return r, err
	}
	r.Time = parseTime(ts)
	r.Fields = json.RawMessage(fields)
	if cred.Valid {
		r.Credential = &event.Credential{}
		json.Unmarshal([]byte(cred.String), r.Credential)
	}
	return r, nil
}

// where builds a WHERE clause from conditions joined by AND.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// countWhere counts the rows of table that w keeps: through the cache c
// when w keeps every row, with COUNT(*) otherwise.
func (s *Store) countWhere(ctx context.Context, c *rowCount, table string, w *where) (int, error) {
	if len(w.conds) == 0 {
		return s.countAll(ctx, c, table)
	}
	var n int
	err := s.db.QueryRowContext(ctx, s.q("SELECT COUNT(*) FROM "+table+w.String()), w.args...).Scan(&n)
	return n, err
}

// likeArg escapes LIKE wildcards in a user's search text.
func likeArg(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(s) + "%"
}

func eventFilter(p Page) *where {
	w := &where{}
	if p.AfterID > 0 {
		w.add("id > ?", p.AfterID)
	}
	if p.AttackerIP != "" {
		w.add("attacker_ip = ?", p.AttackerIP)
	}
	if p.Decky != "" {
		w.add("decky = ?", p.Decky)
	}
	if p.Service != "" {
		w.add("service = ?", p.Service)
	}
	if p.Type != "" {
		w.add("event_type = ?", p.Type)
	}
	for _, tok := range strings.Fields(p.Search) {
		k, v, ok := strings.Cut(tok, ":")
		col := map[string]string{"decky": "decky", "service": "service", "event": "event_type", "type": "event_type",
			"attacker": "attacker_ip", "attacker_ip": "attacker_ip", "ip": "attacker_ip", "session": "session"}[k]
		if ok && col != "" {
			w.add(col+" = ?", v)
			continue
		}
		a := likeArg(tok)
		w.add(`(fields LIKE ? ESCAPE '\' OR decky LIKE ? ESCAPE '\' OR service LIKE ? ESCAPE '\' OR attacker_ip LIKE ? ESCAPE '\' OR event_type LIKE ? ESCAPE '\')`, a, a, a, a, a)
	}
	return w
}

// Events lists stored events, newest first; with AfterID set, the events
// after that cursor, oldest first (for live streams).
func (s *Store) Events(ctx context.Context, p Page) (rows []EventRow, total int, err error) {
	w := eventFilter(p)
	order := " ORDER BY id DESC"
	if p.AfterID > 0 {
		order = " ORDER BY id ASC"
	}
	if total, err = s.countWhere(ctx, &s.totals.events, "events", w); err != nil {
		return nil, 0, fmt.Errorf("store: count events: %w", err)
	}
	rows, err = selectAll(ctx, s, "list events", "SELECT "+eventCols+" FROM events"+w.String()+order+" LIMIT ? OFFSET ?", append(w.args, p.Limit, p.Offset), scanEvent)
	return rows, total, err
}

// EventsAfter returns up to limit events with an id above after, oldest first.
func (s *Store) EventsAfter(ctx context.Context, after int64, limit int) ([]EventRow, error) {
	rs, err := s.db.QueryContext(ctx, s.q("SELECT "+eventCols+" FROM events WHERE id > ? ORDER BY id ASC LIMIT ?"), after, limit)
	if err != nil {
		return nil, fmt.Errorf("store: events after %d: %w", after, err)
	}
	defer rs.Close()
	var rows []EventRow
	for rs.Next() {
		r, err := scanEvent(rs)
		if err != nil {
			return nil, err
		}
		rows = append(rows, r)
	}
	return rows, rs.Err()
}

// MaxEventID is the cursor of the newest event (0 when there is none).
func (s *Store) MaxEventID(ctx context.Context) (int64, error) {
	var id sql.NullInt64
	err := s.db.QueryRowContext(ctx, "SELECT MAX(id) FROM events").Scan(&id)
	return id.Int64, err
}

const attackerCols = `uuid, ip, first_seen, last_seen, event_count, session_count, credential_count, command_count, services, deckies, updated_at, threat_score, profile`

func scanAttacker(sc interface{ Scan(...any) error }) (Attacker, error) {
	var a Attacker
	var first, last, upd, svc, dk string
	var profile sql.NullString
	if err := sc.Scan(&a.UUID, &a.IP, &first, &last, &a.EventCount, &a.SessionCount, &a.CredentialCount,
		&a.CommandCount, &svc, &dk, &upd, &a.ThreatScore, &profile); err != nil {
		return a, err
	}
	a.Profile = decodeProfile(profile.String)
	a.FirstSeen, a.LastSeen, a.UpdatedAt = parseTime(first), parseTime(last), parseTime(upd)
	a.Services, a.Deckies = decodeList(svc), decodeList(dk)
	a.ServiceCount, a.DeckyCount = len(a.Services), len(a.Deckies)
	return a, nil
}

// Attackers lists attacker profiles, most recently seen first. Search
// matches part of the address; Service keeps attackers that touched it.
func (s *Store) Attackers(ctx context.Context, p Page) (rows []Attacker, total int, err error) {
	w := &where{}
	if p.Search != "" {
		w.add(`ip LIKE ? ESCAPE '\'`, likeArg(p.Search))
	}
	if p.Service != "" {
		w.add(`services LIKE ? ESCAPE '\'`, likeArg(`"`+p.Service+`"`))
	}
	if total, err = s.countWhere(ctx, &s.totals.attackers, "attackers", w); err != nil {
		return nil, 0, fmt.Errorf("store: count attackers: %w", err)
	}
	rows, err = selectAll(ctx, s, "list attackers", "SELECT "+attackerCols+" FROM attackers"+w.String()+" ORDER BY last_seen DESC, ip LIMIT ? OFFSET ?", append(w.args, p.Limit, p.Offset), scanAttacker)
	return rows, total, err
}

// AttackerByUUID returns one profile, or ErrNotFound.
func (s *Store) AttackerByUUID(ctx context.Context, id string) (Attacker, error) {
	a, err := scanAttacker(s.db.QueryRowContext(ctx, s.q("SELECT "+attackerCols+" FROM attackers WHERE uuid = ?"), id))
	if err == sql.ErrNoRows {
		return a, ErrNotFound
	}
	return a, err
}

// AttackerByIP returns the profile of an address, or ErrNotFound.
func (s *Store) AttackerByIP(ctx context.Context, ip string) (Attacker, error) {
	a, err := scanAttacker(s.pointRow(ctx, "SELECT "+attackerCols+" FROM attackers WHERE ip = ?", ip))
	if err == sql.ErrNoRows {
		return a, ErrNotFound
	}
	return a, err
}

// Sessions lists sessions, newest first, optionally of one address.
func (s *Store) Sessions(ctx context.Context, p Page) (rows []Session, total int, err error) {
	w := &where{}
	if p.AttackerIP != "" {
		w.add("attacker_ip = ?", p.AttackerIP)
	}
	if p.Service != "" {
		w.add("service = ?", p.Service)
	}
	if err := s.db.QueryRowContext(ctx, s.q("SELECT COUNT(*) FROM sessions"+w.String()), w.args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("store: count sessions: %w", err)
	}
	rs, err := s.db.QueryContext(ctx, s.q(`SELECT id, attacker_ip, decky, service, src_port, started_at, last_seen, ended_at,
		event_count, command_count, login_count, username, logged_in FROM sessions`+w.String()+
		" ORDER BY started_at DESC LIMIT ? OFFSET ?"), append(w.args, p.Limit, p.Offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("store: list sessions: %w", err)
	}
	defer rs.Close()
	for rs.Next() {
		var x Session
		var started, last string
		var ended sql.NullString
		if err := rs.Scan(&x.ID, &x.AttackerIP, &x.Decky, &x.Service, &x.SrcPort, &started, &last, &ended,
			&x.EventCount, &x.CommandCount, &x.LoginCount, &x.Username, &x.LoggedIn); err != nil {
			return nil, 0, err
		}
		x.StartedAt, x.LastSeen = parseTime(started), parseTime(last)
		if ended.Valid {
			t := parseTime(ended.String)
			x.EndedAt = &t
		}
		rows = append(rows, x)
	}
	return rows, total, rs.Err()
}

// Credentials lists captured credentials, most recently used first. Search
// matches part of the decky, service, principal or printable secret.
func (s *Store) Credentials(ctx context.Context, p Page) (rows []Credential, total int, err error) {
	w := &where{}
	if p.AttackerIP != "" {
		w.add("attacker_ip = ?", p.AttackerIP)
	}
	if p.Service != "" {
		w.add("service = ?", p.Service)
	}
	if p.Search != "" {
		a := likeArg(p.Search)
		w.add(`(decky LIKE ? ESCAPE '\' OR service LIKE ? ESCAPE '\' OR principal LIKE ? ESCAPE '\' OR secret_printable LIKE ? ESCAPE '\')`, a, a, a, a)
	}
	if err := s.db.QueryRowContext(ctx, s.q("SELECT COUNT(*) FROM credentials"+w.String()), w.args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("store: count credentials: %w", err)
	}
	rs, err := s.db.QueryContext(ctx, s.q(`SELECT id, attacker_ip, decky, service, principal, secret_kind, secret_sha256,
		secret_b64, secret_printable, outcome, first_seen, last_seen, attempt_count FROM credentials`+w.String()+
		" ORDER BY last_seen DESC, id DESC LIMIT ? OFFSET ?"), append(w.args, p.Limit, p.Offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("store: list credentials: %w", err)
	}
	defer rs.Close()
	for rs.Next() {
		var c Credential
		var first, last string
		if err := rs.Scan(&c.ID, &c.AttackerIP, &c.Decky, &c.Service, &c.Principal, &c.SecretKind, &c.SecretSHA256,
			&c.SecretB64, &c.SecretPrintable, &c.Outcome, &first, &last, &c.AttemptCount); err != nil {
			return nil, 0, err
		}
		c.FirstSeen, c.LastSeen = parseTime(first), parseTime(last)
		rows = append(rows, c)
	}
	return rows, total, rs.Err()
}

// Commands lists the commands an address ran, oldest first.
func (s *Store) Commands(ctx context.Context, ip string, limit, offset int) (rows []Command, total int, err error) {
	if err := s.db.QueryRowContext(ctx, s.q("SELECT COUNT(*) FROM events WHERE attacker_ip = ? AND event_type = 'command'"), ip).Scan(&total); err != nil {
		return nil, 0, err
	}
	rs, err := s.db.QueryContext(ctx, s.q(`SELECT event_id, ts, decky, service, session, fields FROM events
		WHERE attacker_ip = ? AND event_type = 'command' ORDER BY id ASC LIMIT ? OFFSET ?`), ip, limit, offset)
	if err != nil {
		return nil, 0, fmt.Errorf("store: commands of %s: %w", ip, err)
	}
	defer rs.Close()
	for rs.Next() {
		var c Command
		var ts, fields string
		if err := rs.Scan(&c.EventID, &ts, &c.Decky, &c.Service, &c.Session, &fields); err != nil {
			return nil, 0, err
		}
		c.Time = parseTime(ts)
		var f struct {
			Command  string `json:"command"`
			Username string `json:"username"`
			Cwd      string `json:"cwd"`
		}
		json.Unmarshal([]byte(fields), &f)
		c.Command, c.User, c.Cwd = f.Command, f.Username, f.Cwd
		rows = append(rows, c)
	}
	return rows, total, rs.Err()
}

// Stats are the headline counts of the dashboard.
type Stats struct {
	Events      int `json:"total_logs"`
	Attackers   int `json:"unique_attackers"`
	Credentials int `json:"credentials"`
	Sessions    int `json:"sessions"`
	Deckies     int `json:"deployed_deckies"`
}

// Stats counts what the store holds.
func (s *Store) Stats(ctx context.Context) (Stats, error) {
	var st Stats
	err := s.db.QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM events), (SELECT COUNT(*) FROM attackers), (SELECT COUNT(*) FROM credentials),
		(SELECT COUNT(*) FROM sessions), (SELECT COUNT(*) FROM deckies)`).
		Scan(&st.Events, &st.Attackers, &st.Credentials, &st.Sessions, &st.Deckies)
	return st, err
}
