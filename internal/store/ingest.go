package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

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
	var res IngestResult
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return res, fmt.Errorf("store: begin ingest: %w", err)
	}
	defer tx.Rollback()

	fresh, dups, err := s.unseen(ctx, tx, events)
	if err != nil {
		return res, err
	}
	res.Duplicates = dups
	agg := newAggregate()
	for start := 0; start < len(fresh); start += insertChunk {
		chunk := fresh[start:min(start+insertChunk, len(fresh))]
		if err := s.insertEvents(ctx, tx, chunk); err != nil {
			return res, err
		}
		for _, e := range chunk {
			agg.add(e)
		}
		res.Inserted += len(chunk)
	}
	if err := s.applyAttackers(ctx, tx, agg); err != nil {
		return res, err
	}
	if err := s.applySessions(ctx, tx, agg); err != nil {
		return res, err
	}
	n, err := s.applyCredentials(ctx, tx, agg)
	if err != nil {
		return res, err
	}
	res.Credentials = n
	if err := tx.Commit(); err != nil {
		return res, fmt.Errorf("store: commit ingest: %w", err)
	}
	for ip := range agg.attackers {
		res.Attackers = append(res.Attackers, ip)
	}
	return res, nil
}

// insertChunk is how many events one INSERT statement carries: multi-row
// inserts cost far less per row than one statement per event.
const insertChunk = 100

const eventInsertCols = 13

// unseen returns the events of the batch not stored yet (and not repeated
// within the batch), and how many were left out as duplicates. The pipeline
// is the only writer of events and runs in one transaction, so what this
// finds stays true until commit.
func (s *Store) unseen(ctx context.Context, tx *sql.Tx, events []event.Event) ([]*event.Event, int, error) {
	seen := make(map[string]bool, len(events))
	for start := 0; start < len(events); start += 500 {
		chunk := events[start:min(start+500, len(events))]
		args := make([]any, len(chunk))
		for i := range chunk {
			args[i] = chunk[i].ID
		}
		rows, err := tx.QueryContext(ctx, s.q("SELECT event_id FROM events WHERE event_id IN ("+placeholders(len(chunk), 1)+")"), args...)
		if err != nil {
			return nil, 0, fmt.Errorf("store: look up event ids: %w", err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, 0, err
			}
			seen[id] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, 0, err
		}
	}
	fresh := make([]*event.Event, 0, len(events))
	for i := range events {
		if !seen[events[i].ID] {
			seen[events[i].ID] = true
			fresh = append(fresh, &events[i])
		}
	}
	return fresh, len(events) - len(fresh), nil
}

// insertEvents writes events with one multi-row INSERT.
func (s *Store) insertEvents(ctx context.Context, tx *sql.Tx, events []*event.Event) error {
	args := make([]any, 0, len(events)*eventInsertCols)
	for _, e := range events {
		fields := "{}"
		if len(e.Fields) > 0 {
			b, err := json.Marshal(e.Fields)
			if err != nil {
				return fmt.Errorf("store: event %s fields: %w", e.ID, err)
			}
			fields = string(b)
		}
		var cred any
		if e.Credential != nil {
			b, err := json.Marshal(e.Credential)
			if err != nil {
				return fmt.Errorf("store: event %s credential: %w", e.ID, err)
			}
			cred = string(b)
		}
		args = append(args, e.ID, fmtTime(e.Time), e.Decky, e.Service, e.Type, e.SrcIP,
			e.SrcPort, e.DstIP, e.DstPort, e.Proto, e.Session, fields, cred)
	}
	q := s.q(`INSERT INTO events
		(event_id, ts, decky, service, event_type, attacker_ip, src_port, dst_ip, dst_port, proto, session, fields, credential)
		VALUES ` + placeholders(len(events), eventInsertCols))
	if _, err := tx.ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("store: insert %d events: %w", len(events), err)
	}
	return nil
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

func (a *aggregate) add(e *event.Event) {
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
				d.loggedIn, d.username = true, c.Principal
			}
		}
	}
	if c := e.Credential; c != nil && e.SrcIP != "" {
		sha, err := c.SHA256()
		if err != nil {
			return // Validate rejects these before ingest; never store a bad secret
		}
		k := credKey{e.SrcIP, e.Decky, e.Service, c.Kind(), sha, c.Principal}
		d := a.creds[k]
		if d == nil {
			d = &credDelta{b64: c.SecretB64, printable: c.SecretPrintable, first: e.Time, last: e.Time}
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

func (s *Store) applyAttackers(ctx context.Context, tx *sql.Tx, agg *aggregate) error {
	if len(agg.attackers) == 0 {
		return nil
	}
	sel, err := tx.PrepareContext(ctx, s.q(`SELECT services, deckies FROM attackers WHERE ip = ?`))
	if err != nil {
		return err
	}
	defer sel.Close()
	now := fmtTime(time.Now())
	for ip, d := range agg.attackers {
		var svcJSON, dkJSON string
		err := sel.QueryRowContext(ctx, ip).Scan(&svcJSON, &dkJSON)
		switch {
		case err == sql.ErrNoRows:
			svc, _ := json.Marshal(d.services)
			dk, _ := json.Marshal(d.deckies)
			_, err = tx.ExecContext(ctx, s.q(`INSERT INTO attackers
				(uuid, ip, first_seen, last_seen, event_count, session_count, credential_count, command_count, services, deckies, updated_at)
				VALUES (?,?,?,?,?,?,?,?,?,?,?)`),
				uuid.NewString(), ip, fmtTime(d.first), fmtTime(d.last), d.events, d.sessions, d.creds, d.commands, string(svc), string(dk), now)
		case err == nil:
			var svc, dk []string
			json.Unmarshal([]byte(svcJSON), &svc)
			json.Unmarshal([]byte(dkJSON), &dk)
			for _, x := range d.services {
				svc = appendNew(svc, x)
			}
			for _, x := range d.deckies {
				dk = appendNew(dk, x)
			}
			sb, _ := json.Marshal(svc)
			db, _ := json.Marshal(dk)
			_, err = tx.ExecContext(ctx, s.q(`UPDATE attackers SET
				first_seen = CASE WHEN first_seen < ? THEN first_seen ELSE ? END,
				last_seen = CASE WHEN last_seen > ? THEN last_seen ELSE ? END,
				event_count = event_count + ?, session_count = session_count + ?,
				credential_count = credential_count + ?, command_count = command_count + ?,
				services = ?, deckies = ?, updated_at = ? WHERE ip = ?`),
				fmtTime(d.first), fmtTime(d.first), fmtTime(d.last), fmtTime(d.last),
				d.events, d.sessions, d.creds, d.commands, string(sb), string(db), now, ip)
		}
		if err != nil {
			return fmt.Errorf("store: attacker %s: %w", ip, err)
		}
	}
	return nil
}

func (s *Store) applySessions(ctx context.Context, tx *sql.Tx, agg *aggregate) error {
	if len(agg.sessions) == 0 {
		return nil
	}
	up, err := tx.PrepareContext(ctx, s.q(`INSERT INTO sessions
		(id, attacker_ip, decky, service, src_port, started_at, last_seen, ended_at, event_count, command_count, login_count, username, logged_in)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)
		ON CONFLICT (id) DO UPDATE SET
			started_at = CASE WHEN sessions.started_at < excluded.started_at THEN sessions.started_at ELSE excluded.started_at END,
			last_seen = CASE WHEN sessions.last_seen > excluded.last_seen THEN sessions.last_seen ELSE excluded.last_seen END,
			ended_at = COALESCE(excluded.ended_at, sessions.ended_at),
			event_count = sessions.event_count + excluded.event_count,
			command_count = sessions.command_count + excluded.command_count,
			login_count = sessions.login_count + excluded.login_count,
			username = CASE WHEN excluded.logged_in = 1 THEN excluded.username ELSE sessions.username END,
			logged_in = CASE WHEN excluded.logged_in = 1 THEN 1 ELSE sessions.logged_in END`))
	if err != nil {
		return err
	}
	defer up.Close()
	for id, d := range agg.sessions {
		var ended any
		if d.ended {
			ended = fmtTime(d.last)
		}
		if _, err := up.ExecContext(ctx, id, d.ip, d.decky, d.service, d.srcPort, fmtTime(d.first), fmtTime(d.last),
			ended, d.events, d.commands, d.logins, d.username, boolInt(d.loggedIn)); err != nil {
			return fmt.Errorf("store: session %s: %w", id, err)
		}
	}
	return nil
}

func (s *Store) applyCredentials(ctx context.Context, tx *sql.Tx, agg *aggregate) (int, error) {
	if len(agg.creds) == 0 {
		return 0, nil
	}
	up, err := tx.PrepareContext(ctx, s.q(`INSERT INTO credentials
		(attacker_ip, decky, service, principal, secret_kind, secret_sha256, secret_b64, secret_printable, outcome, first_seen, last_seen, attempt_count)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?)
		ON CONFLICT (attacker_ip, decky, service, secret_kind, secret_sha256, principal) DO UPDATE SET
			attempt_count = credentials.attempt_count + excluded.attempt_count,
			last_seen = CASE WHEN credentials.last_seen > excluded.last_seen THEN credentials.last_seen ELSE excluded.last_seen END,
			outcome = CASE WHEN excluded.outcome = 'success' OR credentials.outcome = 'observed' THEN excluded.outcome ELSE credentials.outcome END`))
	if err != nil {
		return 0, err
	}
	defer up.Close()
	n := 0
	for _, k := range agg.order {
		d := agg.creds[k]
		outcome := d.outcome
		if outcome == "" {
			outcome = event.OutcomeObserved
		}
		if _, err := up.ExecContext(ctx, k.ip, k.decky, k.service, k.principal, k.kind, k.sha, d.b64, d.printable,
			outcome, fmtTime(d.first), fmtTime(d.last), d.attempts); err != nil {
			return 0, fmt.Errorf("store: credential: %w", err)
		}
		n += d.attempts
	}
	return n, nil
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
