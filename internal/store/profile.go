package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// AttackerProfile is what the profile stage (package intelpipe, durable
// intel-profile) derives about an attacker: the tools recognised from its
// client banners and user agents, the kill-chain phases seen, whether a
// human or a program drives it, and its threat score. It is stored as JSON
// in attackers.profile (the score also in attackers.threat_score) and is
// nil on an attacker the stage has not seen yet.
type AttackerProfile struct {
	Tools  []string `json:"tools"`
	Phases []string `json:"kill_chain_phases"`
	// Actor is human, automated or unknown; ActorBasis says what decided
	// it: behave (the newest BEHAVE input modality), timing (the
	// inter-event cadence) or "" (not enough evidence).
	Actor       string        `json:"actor"`
	ActorBasis  string        `json:"actor_basis"`
	ThreatScore int           `json:"threat_score"`
	Timing      ProfileTiming `json:"timing"`
	// Modality is the newest BEHAVE motor.input_modality value seen.
	Modality  string    `json:"behave_modality,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
}

// ProfileTiming is the running statistics (Welford) of the intervals
// between an attacker's actions, in seconds, and the time of the last one.
type ProfileTiming struct {
	Intervals int       `json:"intervals"`
	Mean      float64   `json:"mean_s"`
	M2        float64   `json:"m2"`
	LastTS    time.Time `json:"last_ts"`
}

// SetAttackerProfile stores the profile of an attacker (and its score in
// attackers.threat_score). It touches nothing the ingest worker writes.
func (s *Store) SetAttackerProfile(ctx context.Context, attackerUUID string, p AttackerProfile) error {
	return s.SetAttackerProfiles(ctx, map[string]AttackerProfile{attackerUUID: p})
}

// SetAttackerProfiles stores the profiles of several attackers, keyed by
// attacker uuid, in one transaction: the profile stage's write per batch.
func (s *Store) SetAttackerProfiles(ctx context.Context, profiles map[string]AttackerProfile) error {
	if len(profiles) == 0 {
		return nil
	}
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return fmt.Errorf("store: set profiles: %w", err)
	}
	defer tx.Rollback()
	stmt, err := s.txStmt(ctx, tx.Tx, "UPDATE attackers SET profile = ?, threat_score = ? WHERE uuid = ?")
	if err != nil {
		return fmt.Errorf("store: set profiles: %w", err)
	}
	for id, p := range profiles {
		b, err := json.Marshal(p)
		if err != nil {
			return err
		}
		if _, err := stmt.ExecContext(ctx, string(b), p.ThreatScore, id); err != nil {
			return fmt.Errorf("store: set profile of attacker %s: %w", id, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: set profiles: %w", err)
	}
	return nil
}

// decodeProfile reads attackers.profile; NULL, empty or unreadable JSON is
// no profile.
func decodeProfile(s string) *AttackerProfile {
	if s == "" {
		return nil
	}
	var p AttackerProfile
	if json.Unmarshal([]byte(s), &p) != nil {
		return nil
	}
	return &p
}
