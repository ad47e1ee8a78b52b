package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/decnet-go/decnet/internal/event"
)

// IngestResult says what one batch changed.
type IngestResult struct {
	Inserted    int      // new events written
	Duplicates  int      // events already stored (redelivery), ignored
	Credentials int      // credential attempts recorded
	Attackers   []string // addresses whose profile changed
}

// IngestBatch writes a batch of events in one transaction: each event row,
// and for the events not seen before, the attacker profile of its source
// address, its session and any credential it carries. Events already stored
// (same id) change nothing, so redelivery by the bus is harmless.
func (s *Store) IngestBatch(ctx context.Context, events []event.Event) (IngestResult, error) {
	b, err := PrepareBatch(events)
	if err != nil {
		return IngestResult{}, err
	}
	return s.Write(ctx, b)
}

// Batch is a set of events encoded for the store ahead of the write. The
// encoding (JSON, timestamps, secret hashes) runs on the caller's goroutine,
// so the one writer a SQLite database allows spends its time writing.
type Batch struct {
	events []event.Event
	rows   [][]any  // column values of each event row
	shas   []string // secret hash of each event's credential ("" without one)
}

// PrepareBatch encodes events for Write. It fails on an event that cannot
// be encoded or carries an undecodable secret (Validate catches both).
func PrepareBatch(events []event.Event) (*Batch, error) {
	b := &Batch{events: events, rows: make([][]any, len(events)), shas: make([]string, len(events))}
	for i := range events {
		e := &events[i]
		fields := "{}"
		if len(e.Fields) > 0 {
			j, err := json.Marshal(e.Fields)
			if err != nil {
				return nil, fmt.Errorf("store: event %s fields: %w", e.ID, err)
			}
			fields = string(j)
		}
		var cred any
		if c := e.Credential; c != nil {
			j, err := json.Marshal(c)
			if err != nil {
				return nil, fmt.Errorf("store: event %s credential: %w", e.ID, err)
			}
			cred = string(j)
			if b.shas[i], err = c.SHA256(); err != nil {
				return nil, fmt.Errorf("store: event %s secret: %w", e.ID, err)
			}
		}
		b.rows[i] = []any{e.ID, fmtTime(e.Time), e.Decky, e.Service, e.Type, e.SrcIP,
			e.SrcPort, e.DstIP, e.DstPort, e.Proto, e.Session, fields, cred}
	}
	return b, nil
}

// Write stores a prepared batch in one transaction (see IngestBatch).
func (s *Store) Write(ctx context.Context, b *Batch) (IngestResult, error) {
	var res IngestResult
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return res, fmt.Errorf("store: begin ingest: %w", err)
	}
	defer tx.Rollback()

	fresh, err := s.insertEvents(ctx, tx.Tx, b)
	if err != nil {
		return res, err
	}
	res.Inserted, res.Duplicates = len(fresh), len(b.events)-len(fresh)
	agg := newAggregate()
	for _, i := range fresh {
		agg.add(&b.events[i], b.shas[i])
	}
	newAttackers, err := s.applyAttackers(ctx, tx.Tx, agg)
	if err != nil {
		return res, err
	}
	if err := s.applySessions(ctx, tx.Tx, agg); err != nil {
		return res, err
	}
	n, err := s.applyCredentials(ctx, tx.Tx, agg)
	if err != nil {
		return res, err
	}
	res.Credentials = n
	if err := tx.Commit(); err != nil {
		return res, fmt.Errorf("store: commit ingest: %w", err)
	}
	s.totals.wrote(res.Inserted, newAttackers)
	for ip := range agg.attackers {
		res.Attackers = append(res.Attackers, ip)
	}
	return res, nil
}

// insertChunk is how many events one INSERT statement carries: multi-row
// inserts cost far less per row than one statement per event.
const insertChunk = 100

// insertEvents writes the batch's event rows, skipping ids already stored
// (redelivery) or repeated within the batch, and returns the indexes of the
// events it wrote. The common case, every event new, costs no lookup: the
// inserts report how many rows they added, and only when that falls short
// are the new rows read back (by cursor id: the pipeline is the only writer
// and holds the transaction).
func (s *Store) insertEvents(ctx context.Context, tx *sql.Tx, b *Batch) ([]int, error) {
	seen := make(map[string]bool, len(b.events))
	idx := make([]int, 0, len(b.events))
	rows := make([][]any, 0, len(b.events))
	for i := range b.events {
		if id := b.events[i].ID; !seen[id] {
			seen[id] = true
			idx = append(idx, i)
			rows = append(rows, b.rows[i])
		}
	}
	var before int64
	if err := tx.QueryRowContext(ctx, "SELECT COALESCE(MAX(id), 0) FROM events").Scan(&before); err != nil {
		return nil, fmt.Errorf("store: event cursor: %w", err)
	}
	n, err := s.writeRows(ctx, tx, `INSERT INTO events
		(event_id, ts, decky, service, event_type, attacker_ip, src_port, dst_ip, dst_port, proto, session, fields, credential)`,
		"ON CONFLICT (event_id) DO NOTHING", rows)
	if err != nil {
		return nil, fmt.Errorf("store: insert %d events: %w", len(rows), err)
	}
	if int(n) == len(idx) {
		return idx, nil
	}
	added := make(map[string]bool, n)
	rs, err := tx.QueryContext(ctx, s.q("SELECT event_id FROM events WHERE id > ?"), before)
	if err != nil {
		return nil, fmt.Errorf("store: read back new events: %w", err)
	}
	defer rs.Close()
	for rs.Next() {
		var id string
		if err := rs.Scan(&id); err != nil {
			return nil, err
		}
		added[id] = true
	}
	fresh := idx[:0]
	for _, i := range idx {
		if added[b.events[i].ID] {
			fresh = append(fresh, i)
		}
	}
	return fresh, rs.Err()
}

// placeholders renders n groups of width '?' marks: "(?,?),(?,?)"; with
// width 1 a plain list "?,?,?".
func placeholders(n, width int) string {
	var b strings.Builder
	group := "(" + strings.TrimSuffix(strings.Repeat("?,", width), ",") + ")"
	if width == 1 {
		group = "?"
	}
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(group)
	}
	return b.String()
}

// txStmt returns query prepared for tx, a write transaction. Statements
// are prepared once per database connection and cached: parsing a
// 1,300-parameter INSERT on every batch would cost more than running it.
func (s *Store) txStmt(ctx context.Context, tx *sql.Tx, query string) (*sql.Stmt, error) {
	st, err := cachedStmt(ctx, s.w, &s.wstmts, s.q(query))
	if err != nil {
		return nil, err
	}
	return tx.StmtContext(ctx, st), nil
}

// aggregate folds a batch into one change per attacker, session and
// credential, so a burst from one source costs one row update, not one per
// event.
type aggregate struct {
	attackers map[string]*attackerDelta
	sessions  map[string]*sessionDelta
	creds     map[credKey]*credDelta
	order     []credKey
}

type attackerDelta struct {
	first, last                       time.Time
	events, sessions, creds, commands int
	services, deckies                 []string
}

type sessionDelta struct {
	ip, decky, service       string
	srcPort                  int
	first, last              time.Time
	ended                    bool
	events, commands, logins int
	username                 string
	loggedIn                 bool
}

type credKey struct {
	ip, decky, service, kind, sha, principal string
}

type credDelta struct {
	b64, printable, outcome string
	first, last             time.Time
	attempts                int
}

func newAggregate() *aggregate {
	return &aggregate{
		attackers: map[string]*attackerDelta{},
		sessions:  map[string]*sessionDelta{},
		creds:     map[credKey]*credDelta{},
	}
}

func (a *aggregate) add(e *event.Event, sha string) {
	if e.SrcIP != "" {
		d := a.attackers[e.SrcIP]
		if d == nil {
			d = &attackerDelta{first: e.Time, last: e.Time}
			a.attackers[e.SrcIP] = d
		}
		d.first, d.last = minTime(d.first, e.Time), maxTime(d.last, e.Time)
		d.events++
		if e.Type == event.TypeConnect {
			d.sessions++
		}
		if e.Type == event.TypeCommand {
			d.commands++
		}
		if e.Credential != nil {
			d.creds++
		}
		d.services = appendNew(d.services, e.Service)
		d.deckies = appendNew(d.deckies, e.Decky)
	}
	if e.Session != "" && e.SrcIP != "" {
		d := a.sessions[e.Session]
		if d == nil {
			d = &sessionDelta{ip: e.SrcIP, decky: e.Decky, service: e.Service, srcPort: e.SrcPort, first: e.Time, last: e.Time}
			a.sessions[e.Session] = d
		}
		d.first, d.last = minTime(d.first, e.Time), maxTime(d.last, e.Time)
		d.events++
		switch {
		case e.Type == event.TypeCommand:
			d.commands++
		case e.Type == event.TypeDisconnect:
			d.ended = true
		}
		if c := e.Credential; c != nil {
			d.logins++
			if c.Outcome == event.OutcomeSuccess {
				d.loggedIn, d.username = true, cleanText(c.Principal, maxPrincipal)
			}
		}
	}
	if c := e.Credential; c != nil && e.SrcIP != "" {
		k := credKey{e.SrcIP, e.Decky, e.Service, c.Kind(), sha, cleanText(c.Principal, maxPrincipal)}
		d := a.creds[k]
		if d == nil {
			d = &credDelta{b64: c.SecretB64, printable: cleanText(c.SecretPrintable, maxPrintable), first: e.Time, last: e.Time}
			a.creds[k] = d
			a.order = append(a.order, k)
		}
		d.first, d.last = minTime(d.first, e.Time), maxTime(d.last, e.Time)
		d.attempts++
		d.outcome = strongerOutcome(d.outcome, c.Outcome)
	}
}

// strongerOutcome keeps "success" over "failure" over "observed": once a
// secret has been seen to work, later failures do not hide that.
func strongerOutcome(a, b string) string {
	rank := map[string]int{"": 0, event.OutcomeObserved: 1, event.OutcomeFailure: 2, event.OutcomeSuccess: 3}
	if rank[b] > rank[a] {
		return b
	}
	return a
}

// writeRows runs "head VALUES (…),(…) tail" over rows in chunks: one
// multi-row statement costs far less per row than a statement per row.
func (s *Store) writeRows(ctx context.Context, tx *sql.Tx, head, tail string, rows [][]any) (int64, error) {
	if len(rows) == 0 {
		return 0, nil
	}
	var affected int64
	width := len(rows[0])
	chunk := max(1, min(insertChunk, maxParams/width))
	for start := 0; start < len(rows); start += chunk {
		part := rows[start:min(start+chunk, len(rows))]
		args := make([]any, 0, len(part)*width)
		for _, r := range part {
			args = append(args, r...)
		}
		st, err := s.txStmt(ctx, tx, head+" VALUES "+placeholders(len(part), width)+" "+tail)
		if err != nil {
			return affected, err
		}
		r, err := st.ExecContext(ctx, args...)
		if err != nil {
			return affected, err
		}
		n, _ := r.RowsAffected()
		affected += n
	}
	return affected, nil
}

// maxParams stays under the bound parameters a statement may carry on
// every supported engine.
const maxParams = 30000

// attackerLists reads the services and deckies already recorded for ips.
func (s *Store) attackerLists(ctx context.Context, tx *sql.Tx, ips []string) (map[string][2][]string, error) {
	out := make(map[string][2][]string, len(ips))
	for start := 0; start < len(ips); start += 500 {
		part := ips[start:min(start+500, len(ips))]
		args := make([]any, len(part))
		for i, ip := range part {
			args[i] = ip
		}
		st, err := s.txStmt(ctx, tx, "SELECT ip, services, deckies FROM attackers WHERE ip IN ("+placeholders(len(part), 1)+")")
		if err != nil {
			return nil, err
		}
		rows, err := st.QueryContext(ctx, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var ip, svc, dk string
			if err := rows.Scan(&ip, &svc, &dk); err != nil {
				rows.Close()
				return nil, err
			}
			var l [2][]string
			json.Unmarshal([]byte(svc), &l[0])
			json.Unmarshal([]byte(dk), &l[1])
			out[ip] = l
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// applyAttackers upserts the batch's attacker profiles and returns how many
// of them are new.
func (s *Store) applyAttackers(ctx context.Context, tx *sql.Tx, agg *aggregate) (int, error) {
	if len(agg.attackers) == 0 {
		return 0, nil
	}
	ips := make([]string, 0, len(agg.attackers))
	for ip := range agg.attackers {
		ips = append(ips, ip)
	}
	sort.Strings(ips) // a stable order keeps statements and locks predictable
	known, err := s.attackerLists(ctx, tx, ips)
	if err != nil {
		return 0, fmt.Errorf("store: read attackers: %w", err)
	}
	now := fmtTime(time.Now())
	rows := make([][]any, 0, len(ips))
	for _, ip := range ips {
		d := agg.attackers[ip]
		l := known[ip]
		for _, x := range d.services {
			l[0] = appendNew(l[0], x)
		}
		for _, x := range d.deckies {
			l[1] = appendNew(l[1], x)
		}
		svc, _ := json.Marshal(l[0])
		dk, _ := json.Marshal(l[1])
		rows = append(rows, []any{uuid.NewString(), ip, fmtTime(d.first), fmtTime(d.last), d.events, d.sessions,
			d.creds, d.commands, string(svc), string(dk), now})
	}
	_, err = s.writeRows(ctx, tx, `INSERT INTO attackers
		(uuid, ip, first_seen, last_seen, event_count, session_count, credential_count, command_count, services, deckies, updated_at)`,
		`ON CONFLICT (ip) DO UPDATE SET
			first_seen = CASE WHEN attackers.first_seen < excluded.first_seen THEN attackers.first_seen ELSE excluded.first_seen END,
			last_seen = CASE WHEN attackers.last_seen > excluded.last_seen THEN attackers.last_seen ELSE excluded.last_seen END,
			event_count = attackers.event_count + excluded.event_count,
			session_count = attackers.session_count + excluded.session_count,
			credential_count = attackers.credential_count + excluded.credential_count,
			command_count = attackers.command_count + excluded.command_count,
			services = excluded.services, deckies = excluded.deckies, updated_at = excluded.updated_at`, rows)
	if err != nil {
		return 0, fmt.Errorf("store: write attackers: %w", err)
	}
	return len(ips) - len(known), nil
}

func (s *Store) applySessions(ctx context.Context, tx *sql.Tx, agg *aggregate) error {
	rows := make([][]any, 0, len(agg.sessions))
	for id, d := range agg.sessions {
		var ended any
		if d.ended {
			ended = fmtTime(d.last)
		}
		rows = append(rows, []any{id, d.ip, d.decky, d.service, d.srcPort, fmtTime(d.first), fmtTime(d.last),
			ended, d.events, d.commands, d.logins, d.username, boolInt(d.loggedIn)})
	}
	_, err := s.writeRows(ctx, tx, `INSERT INTO sessions
		(id, attacker_ip, decky, service, src_port, started_at, last_seen, ended_at, event_count, command_count, login_count, username, logged_in)`,
		`ON CONFLICT (id) DO UPDATE SET
			started_at = CASE WHEN sessions.started_at < excluded.started_at THEN sessions.started_at ELSE excluded.started_at END,
			last_seen = CASE WHEN sessions.last_seen > excluded.last_seen THEN sessions.last_seen ELSE excluded.last_seen END,
			ended_at = COALESCE(excluded.ended_at, sessions.ended_at),
			event_count = sessions.event_count + excluded.event_count,
			command_count = sessions.command_count + excluded.command_count,
			login_count = sessions.login_count + excluded.login_count,
			username = CASE WHEN excluded.logged_in = 1 THEN excluded.username ELSE sessions.username END,
			logged_in = CASE WHEN excluded.logged_in = 1 THEN 1 ELSE sessions.logged_in END`, rows)
	if err != nil {
		return fmt.Errorf("store: write sessions: %w", err)
	}
	return nil
}

func (s *Store) applyCredentials(ctx context.Context, tx *sql.Tx, agg *aggregate) (int, error) {
	rows := make([][]any, 0, len(agg.order))
	n := 0
	for _, k := range agg.order {
		d := agg.creds[k]
		outcome := d.outcome
		if outcome == "" {
			outcome = event.OutcomeObserved
		}
		rows = append(rows, []any{k.ip, k.decky, k.service, k.principal, k.kind, k.sha, d.b64, d.printable,
			outcome, fmtTime(d.first), fmtTime(d.last), d.attempts})
		n += d.attempts
	}
	_, err := s.writeRows(ctx, tx, `INSERT INTO credentials
		(attacker_ip, decky, service, principal, secret_kind, secret_sha256, secret_b64, secret_printable, outcome, first_seen, last_seen, attempt_count)`,
		`ON CONFLICT (attacker_ip, decky, service, secret_kind, secret_sha256, principal) DO UPDATE SET
			attempt_count = credentials.attempt_count + excluded.attempt_count,
			last_seen = CASE WHEN credentials.last_seen > excluded.last_seen THEN credentials.last_seen ELSE excluded.last_seen END,
			outcome = CASE WHEN excluded.outcome = 'success' OR credentials.outcome = 'observed' THEN excluded.outcome ELSE credentials.outcome END`, rows)
	if err != nil {
		return 0, fmt.Errorf("store: write credentials: %w", err)
	}
	return n, nil
}

// Bounds of attacker-chosen text in key and display columns; the same on
// every dialect (MySQL's key length limit sets them).
const (
	maxPrincipal = 256
	maxPrintable = 512
)

// cleanText makes attacker-chosen text storable alike on every engine:
// valid UTF-8 (MySQL refuses anything else), no NUL (PostgreSQL refuses
// it), at most max runes. The common case costs one scan.
func cleanText(s string, max int) string {
	if len(s) <= max && utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
	if utf8.RuneCountInString(s) > max {
		s = string([]rune(s)[:max])
	}
	return s
}

func appendNew(list []string, v string) []string {
	if v == "" || slices.Contains(list, v) {
		return list
	}
	return append(list, v)
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
