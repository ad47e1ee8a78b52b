package store

import (
	"context"
	"fmt"
)

// ServiceCount is how much attention one service drew: sessions opened on
// it and distinct addresses that opened them.
type ServiceCount struct {
	Service   string `json:"service"`
	Sessions  int    `json:"sessions"`
	Attackers int    `json:"attackers"`
}

// TopServices lists the services with the most sessions, at most limit,
// busiest first (the dashboard's "top services").
func (s *Store) TopServices(ctx context.Context, limit int) ([]ServiceCount, error) {
	rs, err := s.db.QueryContext(ctx, s.q(`SELECT service, COUNT(*), COUNT(DISTINCT attacker_ip) FROM sessions
		GROUP BY service ORDER BY COUNT(*) DESC, service LIMIT ?`), limit)
	if err != nil {
		return nil, fmt.Errorf("store: top services: %w", err)
	}
	defer rs.Close()
	out := []ServiceCount{}
	for rs.Next() {
		var c ServiceCount
		if err := rs.Scan(&c.Service, &c.Sessions, &c.Attackers); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rs.Err()
}
