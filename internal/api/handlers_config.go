package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/decnet-go/decnet/internal/store"
)

// Settings an admin may change (spec/data-api.md §3.8).
const (
	// configLimitsKey is the state row holding {"deployment_limit": N}, as
	// DECNET names it.
	configLimitsKey    = "config_limits"
	maxDeploymentLimit = 500
)

// configResponse is GET /config: what every caller may know, plus the
// accounts for an admin.
type configResponse struct {
	Role            string          `json:"role"`
	DeploymentLimit int             `json:"deployment_limit"`
	Users           *[]userResponse `json:"users,omitempty"`
}

type configLimits struct {
	DeploymentLimit int `json:"deployment_limit"`
}

// deploymentLimit is the most deckies one deploy may start: what an admin
// set through the API, else what the process was started with.
func (s *server) deploymentLimit(ctx context.Context) (int, error) {
	v, err := s.st.State(ctx, configLimitsKey)
	if errors.Is(err, store.ErrNotFound) {
		return s.deployLimit, nil
	}
	if err != nil {
		return 0, err
	}
	var l configLimits
	if json.Unmarshal([]byte(v), &l) != nil || l.DeploymentLimit < 1 {
		return s.deployLimit, nil // unreadable row: the start-up setting holds
	}
	return l.DeploymentLimit, nil
}

// getConfig answers the settings. GET /api/v1/config (viewer; admins also
// get the accounts).
func (s *server) getConfig(w http.ResponseWriter, r *http.Request, id *identity) error {
	limit, err := s.deploymentLimit(r.Context())
	if err != nil {
		return err
	}
	resp := configResponse{Role: id.user.Role, DeploymentLimit: limit}
	if id.user.Role == RoleAdmin {
		users, err := s.st.Users(r.Context())
		if err != nil {
			return err
		}
		list := make([]userResponse, 0, len(users))
		for _, u := range users {
			list = append(list, userView(u))
		}
		resp.Users = &list
	}
	return writeJSON(w, http.StatusOK, resp)
}

type deploymentLimitRequest struct {
	DeploymentLimit *int `json:"deployment_limit"`
}

// putDeploymentLimit sets how many deckies one deploy may start, for this
// and later starts. PUT /api/v1/config/deployment-limit {deployment_limit}
// (admin; 1..500).
func (s *server) putDeploymentLimit(w http.ResponseWriter, r *http.Request, id *identity) error {
	var req deploymentLimitRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if req.DeploymentLimit == nil {
		return missingField("deployment_limit")
	}
	if n := *req.DeploymentLimit; n < 1 || n > maxDeploymentLimit {
		return invalidField("deployment_limit must be from 1 to 500")
	}
	v, _ := json.Marshal(configLimits{DeploymentLimit: *req.DeploymentLimit})
	if err := s.st.SetState(r.Context(), configLimitsKey, string(v)); err != nil {
		return err
	}
	s.log.Info("api: deployment limit changed", "by", id.user.Username, "deployment_limit", *req.DeploymentLimit)
	return writeJSON(w, http.StatusOK, messageResponse{Message: "Deployment limit updated"})
}
