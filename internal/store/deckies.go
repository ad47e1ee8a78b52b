package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"
)

// DeckyRow is a decky as the engine runs it.
type DeckyRow struct {
	Name      string           `json:"name"`
	IP        string           `json:"ip"`
	Hostname  string           `json:"hostname"`
	Distro    string           `json:"distro"`
	Status    string           `json:"status"`
	Services  []ServiceBinding `json:"services"`
	UpdatedAt time.Time        `json:"updated_at"`
}

// ServiceBinding is where one service of a decky actually listens.
type ServiceBinding struct {
	Name          string `json:"name"`
	Proto         string `json:"proto"`
	Port          int    `json:"port"`           // the port it listens on
	RequestedPort int    `json:"requested_port"` // the port it should have had
	Address       string `json:"address"`        // host:port to connect to
	Status        string `json:"status"`         // listening or failed
	Error         string `json:"error,omitempty"`
}

// PutDecky records (or replaces) a running decky.
func (s *Store) PutDecky(ctx context.Context, d DeckyRow) error {
	svc, err := json.Marshal(d.Services)
	if err != nil {
		return err
	}
	_, err = s.execWrite(ctx, s.q(`INSERT INTO deckies (name, ip, hostname, distro, status, services, updated_at)
		VALUES (?,?,?,?,?,?,?) ON CONFLICT (name) DO UPDATE SET ip = excluded.ip, hostname = excluded.hostname,
		distro = excluded.distro, status = excluded.status, services = excluded.services, updated_at = excluded.updated_at`),
		d.Name, d.IP, d.Hostname, d.Distro, d.Status, string(svc), fmtTime(time.Now()))
	return err
}

// SetDeckyStatus changes the status of every decky (e.g. "stopped" on shutdown).
func (s *Store) SetDeckyStatus(ctx context.Context, status string) error {
	_, err := s.execWrite(ctx, s.q("UPDATE deckies SET status = ?, updated_at = ?"), status, fmtTime(time.Now()))
	return err
}

// Deckies lists the deckies by name.
func (s *Store) Deckies(ctx context.Context) ([]DeckyRow, error) {
	rs, err := s.db.QueryContext(ctx, "SELECT name, ip, hostname, distro, status, services, updated_at FROM deckies ORDER BY name")
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	out := []DeckyRow{}
	for rs.Next() {
		var d DeckyRow
		var svc, upd string
		if err := rs.Scan(&d.Name, &d.IP, &d.Hostname, &d.Distro, &d.Status, &svc, &upd); err != nil {
			return nil, err
		}
		json.Unmarshal([]byte(svc), &d.Services)
		d.UpdatedAt = parseTime(upd)
		out = append(out, d)
	}
	return out, rs.Err()
}

// State reads a value of the key/value state table; ErrNotFound when unset.
func (s *Store) State(ctx context.Context, key string) (string, error) {
	var v string
	err := s.db.QueryRowContext(ctx, s.q("SELECT value FROM state WHERE name = ?"), key).Scan(&v)
	if err == sql.ErrNoRows {
		return "", ErrNotFound
	}
	return v, err
}

// SetState writes a value of the key/value state table.
func (s *Store) SetState(ctx context.Context, key, value string) error {
	_, err := s.execWrite(ctx, s.q("INSERT INTO state (name, value) VALUES (?,?) ON CONFLICT (name) DO UPDATE SET value = excluded.value"), key, value)
	return err
}

// SetDeckySpec records what the operator wants a decky to run (its
// services and their configuration, as JSON the engine's caller defines),
// so the next start runs the same. The decky's row must exist (PutDecky).
func (s *Store) SetDeckySpec(ctx context.Context, name string, spec json.RawMessage) error {
	res, err := s.execWrite(ctx, s.q("UPDATE deckies SET config = ?, updated_at = ? WHERE name = ?"),
		string(spec), fmtTime(time.Now()), name)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return ErrNotFound
	}
	return nil
}

// DeckySpecs returns the recorded specs of every decky that has one, by
// decky name order.
func (s *Store) DeckySpecs(ctx context.Context) ([]json.RawMessage, error) {
	rs, err := s.db.QueryContext(ctx, "SELECT config FROM deckies WHERE config <> '' ORDER BY name")
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []json.RawMessage
	for rs.Next() {
		var c string
		if err := rs.Scan(&c); err != nil {
			return nil, err
		}
		out = append(out, json.RawMessage(c))
	}
	return out, rs.Err()
}

// ClearDeckySpecs forgets every recorded spec; a start records the specs
// of the fleet it runs afresh, so deckies no longer in it do not return.
func (s *Store) ClearDeckySpecs(ctx context.Context) error {
	_, err := s.execWrite(ctx, "UPDATE deckies SET config = ''")
	return err
}
