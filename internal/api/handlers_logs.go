package api

import (
	"net/http"

	"github.com/decnet-go/decnet/internal/store"
)

// statsResponse is the store's counts plus how many deckies are running.
type statsResponse struct {
	store.Stats
	ActiveDeckies int `json:"active_deckies"`
}

// stats answers the dashboard's headline counts.
// GET /api/v1/stats.
func (s *server) stats(w http.ResponseWriter, r *http.Request, _ *identity) error {
	st, err := s.st.Stats(r.Context())
	if err != nil {
		return err
	}
	deckies, err := s.st.Deckies(r.Context())
	if err != nil {
		return err
	}
	resp := statsResponse{Stats: st}
	for _, d := range deckies {
		if d.Status == "running" {
			resp.ActiveDeckies++
		}
	}
	return writeJSON(w, http.StatusOK, resp)
}
