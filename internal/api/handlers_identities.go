package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/decnet-go/decnet/internal/store"
)

// IdentityStore is what the identity and campaign routes read.
type IdentityStore interface {
	Identities(ctx context.Context, limit, offset int) ([]store.Identity, int, error)
	IdentityByUUID(ctx context.Context, id string) (store.Identity, error)
	AttackersOfIdentity(ctx context.Context, identity string, limit, offset int) ([]store.Attacker, int, error)
	Campaigns(ctx context.Context, limit, offset int) ([]store.Campaign, int, error)
	CampaignByUUID(ctx context.Context, id string) (store.Campaign, error)
	IdentitiesOfCampaignPage(ctx context.Context, campaign string, limit, offset int) ([]store.Identity, int, error)
}

var (
	errIdentityNotFound = newError(http.StatusNotFound, "Identity not found")
	errCampaignNotFound = newError(http.StatusNotFound, "Campaign not found")
)

// identityDetail is an identity with the number of attacker profiles
// linked to it now (its stored observation_count may lag).
type identityDetail struct {
	store.Identity
	ObservationCountLive int `json:"observation_count_live"`
}

// campaignDetail is a campaign with the number of identities in it now.
type campaignDetail struct {
	store.Campaign
	IdentityCountLive int `json:"identity_count_live"`
}

// pagedBy adapts a (limit, offset) store list to list's fetch.
func pagedBy[T any](f func(context.Context, int, int) ([]T, int, error)) func(context.Context, store.Page) ([]T, int, error) {
	return func(ctx context.Context, p store.Page) ([]T, int, error) { return f(ctx, p.Limit, p.Offset) }
}

// identity answers one identity, after following merges to the identity
// that absorbed it. GET /api/v1/identities/{uuid} (viewer).
func (s *server) identity(w http.ResponseWriter, r *http.Request, _ *identity) error {
	i, err := s.identityByID(r.Context(), r.PathValue("uuid"))
	if err != nil {
		return err
	}
	_, n, err := s.st.AttackersOfIdentity(r.Context(), i.UUID, 0, 0)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, identityDetail{Identity: i, ObservationCountLive: n})
}

func (s *server) identityByID(ctx context.Context, id string) (store.Identity, error) {
	i, err := s.st.IdentityByUUID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return i, errIdentityNotFound
	}
	return i, err
}

// identityObservations answers the attacker profiles of an identity (the
// canonical one, after merges). GET /api/v1/identities/{uuid}/observations
// (viewer).
func (s *server) identityObservations(w http.ResponseWriter, r *http.Request, _ *identity) error {
	p, err := parsePage(r, maxListLimit)
	if err != nil {
		return err
	}
	i, err := s.identityByID(r.Context(), r.PathValue("uuid"))
	if err != nil {
		return err
	}
	rows, total, err := s.st.AttackersOfIdentity(r.Context(), i.UUID, p.Limit, p.Offset)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, pageOf(p, total, rows))
}

// campaign answers one campaign, after following merges.
// GET /api/v1/campaigns/{uuid} (viewer).
func (s *server) campaign(w http.ResponseWriter, r *http.Request, _ *identity) error {
	c, err := s.campaignByID(r.Context(), r.PathValue("uuid"))
	if err != nil {
		return err
	}
	_, n, err := s.st.IdentitiesOfCampaignPage(r.Context(), c.UUID, 0, 0)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, campaignDetail{Campaign: c, IdentityCountLive: n})
}

func (s *server) campaignByID(ctx context.Context, id string) (store.Campaign, error) {
	c, err := s.st.CampaignByUUID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return c, errCampaignNotFound
	}
	return c, err
}

// campaignIdentities answers the identities of a campaign.
// GET /api/v1/campaigns/{uuid}/identities (viewer).
func (s *server) campaignIdentities(w http.ResponseWriter, r *http.Request, _ *identity) error {
	p, err := parsePage(r, maxListLimit)
	if err != nil {
		return err
	}
	c, err := s.campaignByID(r.Context(), r.PathValue("uuid"))
	if err != nil {
		return err
	}
	rows, total, err := s.st.IdentitiesOfCampaignPage(r.Context(), c.UUID, p.Limit, p.Offset)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, pageOf(p, total, rows))
}
