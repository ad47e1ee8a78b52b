package api

import (
	"context"
	"errors"
	"net/http"
	"slices"

	"github.com/decnet-go/decnet/internal/store"
)

// attackerDetail is one attacker with what it did. Each list holds at most
// detailListCap rows; the totals say how many there are.
type attackerDetail struct {
	store.Attacker
	ServiceActivity  store.ServiceActivity `json:"service_activity"`
	Sessions         []store.Session       `json:"sessions"`
	SessionsTotal    int                   `json:"sessions_total"`
	Credentials      []store.Credential    `json:"credentials"`
	CredentialsTotal int                   `json:"credentials_total"`
	Commands         []store.Command       `json:"commands"`
	CommandsTotal    int                   `json:"commands_total"`
	Observations     []observationRow      `json:"observations"` // newest per primitive, by primitive
	Intel            *store.AttackerIntel  `json:"intel"`        // per-address threat intel; null until enriched
}

// attacker answers one attacker with its newest sessions, credentials and
// commands. GET /api/v1/attackers/{uuid}.
func (s *server) attacker(w http.ResponseWriter, r *http.Request, _ *identity) error {
	ctx := r.Context()
	a, err := s.attackerByUUID(ctx, r.PathValue("uuid"))
	if err != nil {
		return err
	}
	d := attackerDetail{Attacker: a}
	if d.ServiceActivity, err = s.st.AttackerServiceActivity(ctx, a.IP); err != nil {
		return err
	}
	newest := store.Page{AttackerIP: a.IP, Limit: detailListCap}
	if d.Sessions, d.SessionsTotal, err = s.st.Sessions(ctx, newest); err != nil {
		return err
	}
	if d.Credentials, d.CredentialsTotal, err = s.st.Credentials(ctx, newest); err != nil {
		return err
	}
	if d.Commands, d.CommandsTotal, err = s.newestCommands(ctx, a.IP, detailListCap); err != nil {
		return err
	}
	if d.Observations, err = s.attackerObservations(ctx, a.UUID); err != nil {
		return err
	}
	switch in, err := s.st.AttackerIntel(ctx, a.UUID); {
	case err == nil:
		d.Intel = &in
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	d.Sessions, d.Credentials, d.Commands = orEmpty(d.Sessions), orEmpty(d.Credentials), orEmpty(d.Commands)
	return writeJSON(w, http.StatusOK, d)
}

// attackerSorts are the orders GET /attackers accepts in sort_by.
var attackerSorts = []string{store.SortRecent, store.SortActive, store.SortTraversals}

// attackers pages through attacker profiles.
// GET /api/v1/attackers?limit&offset&search&service&sort_by (recent, active
// or traversals).
func (s *server) attackers(w http.ResponseWriter, r *http.Request, _ *identity) error {
	p, err := parsePage(r, maxListLimit, "search", "service")
	if err != nil {
		return err
	}
	sortBy, err := filterParam(r.URL.Query(), "sort_by")
	if err != nil {
		return err
	}
	if sortBy != "" && !slices.Contains(attackerSorts, sortBy) {
		return invalidParam("sort_by must be recent, active or traversals")
	}
	rows, total, err := s.st.AttackersSorted(r.Context(), p, sortBy)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, pageOf(p, total, rows))
}

// newestCommands returns the last n commands of ip, in the order they ran.
// The store lists commands oldest first, so past n rows it reads the tail.
func (s *server) newestCommands(ctx context.Context, ip string, n int) ([]store.Command, int, error) {
	rows, total, err := s.st.Commands(ctx, ip, n, 0)
	if err != nil || total <= n {
		return rows, total, err
	}
	return s.st.Commands(ctx, ip, n, total-n)
}

// attackerCommands pages through the commands of one attacker, oldest first.
// GET /api/v1/attackers/{uuid}/commands?limit&offset (limit at most 200).
func (s *server) attackerCommands(w http.ResponseWriter, r *http.Request, _ *identity) error {
	p, err := parsePage(r, maxCmdLimit)
	if err != nil {
		return err
	}
	a, err := s.attackerByUUID(r.Context(), r.PathValue("uuid"))
	if err != nil {
		return err
	}
	rows, total, err := s.st.Commands(r.Context(), a.IP, p.Limit, p.Offset)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, pageOf(p, total, rows))
}

// attackerByUUID loads an attacker; unknown ids are "Attacker not found".
func (s *server) attackerByUUID(ctx context.Context, id string) (store.Attacker, error) {
	a, err := s.st.AttackerByUUID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return a, errAttackerNotFound
	}
	return a, err
}

// orEmpty turns a nil slice into an empty one, so JSON shows [] not null.
func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
