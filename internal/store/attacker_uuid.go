package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
)

// AttackerUUIDByIP returns the uuid of the attacker row of an address, or
// ErrNotFound. Rows are never deleted and an address keeps its uuid, so
// answers are kept in a bounded memory: the pipeline's stages ask this for
// nearly every event, and the full row (AttackerByIP) decodes lists they
// do not need.
func (s *Store) AttackerUUIDByIP(ctx context.Context, ip string) (string, error) {
	if id, ok := s.uuids.get(ip); ok {
		return id, nil
	}
	var id string
	err := s.pointRow(ctx, "SELECT uuid FROM attackers WHERE ip = ?", ip).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("store: attacker of %s: %w", ip, err)
	}
	s.uuids.put(ip, id)
	return id, nil
}

// uuidMemoryMax bounds the addresses AttackerUUIDByIP remembers; past it
// the memory starts afresh (a scan of a /16 costs one reload).
const uuidMemoryMax = 1 << 16

// uuidMemory maps addresses to attacker uuids.
type uuidMemory struct {
	mu sync.Mutex
	m  map[string]string
}

func (c *uuidMemory) get(ip string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id, ok := c.m[ip]
	return id, ok
}

func (c *uuidMemory) put(ip, id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= uuidMemoryMax {
		c.m = map[string]string{}
	}
	c.m[ip] = id
}
