package api

import "net/http"

// listDeckies answers every decky with where each of its services listens.
// GET /api/v1/deckies.
func (s *server) listDeckies(w http.ResponseWriter, r *http.Request, _ *identity) error {
	rows, err := s.st.Deckies(r.Context())
	if err != nil {
		return err
	}
	for i := range rows {
		rows[i].Services = orEmpty(rows[i].Services)
	}
	return writeJSON(w, http.StatusOK, orEmpty(rows))
}
