package api

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/decnet-go/decnet/internal/store"
)

// LootStore is what the credential-reuse and bounty routes read.
type LootStore interface {
	RefreshCredentialReuse(ctx context.Context, since time.Time) ([]string, error)
	CredentialReuses(ctx context.Context, q store.ReuseQuery) ([]store.CredentialReuse, int, error)
	CredentialReuseByID(ctx context.Context, id string) (store.CredentialReuse, error)
	Bounties(ctx context.Context, q store.BountyQuery) ([]store.Bounty, int, error)
	// AttackerIntel is an attacker's stored threat intel (ErrNotFound until
	// the enrichment has answered for its address).
	AttackerIntel(ctx context.Context, attackerUUID string) (store.AttackerIntel, error)
}

// reuseRefreshEvery bounds how often a read recomputes credential reuse.
const reuseRefreshEvery = 5 * time.Second

var errReuseNotFound = newError(http.StatusNotFound, "Credential reuse not found")

// reuseRefresher keeps the credential_reuse rows current for readers: at
// most every reuseRefreshEvery, it recomputes the secrets used since the
// last run (all of them the first time). A reader that finds a refresh
// running reads what is stored rather than wait.
type reuseRefresher struct {
	mu   sync.Mutex
	last time.Time // start of the last successful refresh
}

func (rr *reuseRefresher) refresh(ctx context.Context, st LootStore) error {
	if !rr.mu.TryLock() {
		return nil
	}
	defer rr.mu.Unlock()
	start := time.Now()
	if !rr.last.IsZero() && start.Sub(rr.last) < reuseRefreshEvery {
		return nil
	}
	since := rr.last
	if !since.IsZero() {
		since = since.Add(-time.Minute) // credentials committed late by a slow batch
	}
	if _, err := st.RefreshCredentialReuse(ctx, since); err != nil {
		return err
	}
	rr.last = start
	return nil
}

// credentialReuses answers secrets seen on two or more targets, most
// targets first. GET /api/v1/credential-reuse?limit&offset&min_target_count&secret_kind
// (viewer).
func (s *server) credentialReuses(w http.ResponseWriter, r *http.Request, _ *identity) error {
	p, err := parsePage(r, maxListLimit)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	rq := store.ReuseQuery{Limit: p.Limit, Offset: p.Offset}
	if rq.MinTargets, err = intParam(q, "min_target_count", 2, 2, maxOffset); err != nil {
		return err
	}
	if rq.SecretKind, err = filterParam(q, "secret_kind"); err != nil {
		return err
	}
	if err := s.reuse.refresh(r.Context(), s.st); err != nil {
		return err
	}
	rows, total, err := s.st.CredentialReuses(r.Context(), rq)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, pageOf(p, total, rows))
}

// credentialReuse answers one reuse row.
// GET /api/v1/credential-reuse/{reuse_id} (viewer).
func (s *server) credentialReuse(w http.ResponseWriter, r *http.Request, _ *identity) error {
	if err := s.reuse.refresh(r.Context(), s.st); err != nil {
		return err
	}
	row, err := s.st.CredentialReuseByID(r.Context(), r.PathValue("reuse_id"))
	if errors.Is(err, store.ErrNotFound) {
		return errReuseNotFound
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, row)
}

// bounties answers findings (fingerprints, leaks, artifacts), newest
// first. GET /api/v1/bounty?limit&offset&bounty_type&search (viewer).
func (s *server) bounties(w http.ResponseWriter, r *http.Request, _ *identity) error {
	p, err := parsePage(r, maxListLimit, "search")
	if err != nil {
		return err
	}
	bq := store.BountyQuery{Limit: p.Limit, Offset: p.Offset, Search: p.Search}
	if bq.BountyType, err = filterParam(r.URL.Query(), "bounty_type"); err != nil {
		return err
	}
	rows, total, err := s.st.Bounties(r.Context(), bq)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, pageOf(p, total, rows))
}
