package ttpworker

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/decnet-go/decnet/internal/store"
	"github.com/decnet-go/decnet/internal/ttp"
)

// StateStore is what States reads.
type StateStore interface {
	RuleStates(ctx context.Context) (map[string]store.RuleState, error)
}

// States is a ttp.StateSource over ttp_rule_state, re-read at most every
// TTL (default 2 s), so a state set through the API takes effect within
// that time in every process sharing the database. If the store cannot be
// read, the last states read stay in force.
type States struct {
	Store StateStore
	TTL   time.Duration
	Log   *slog.Logger

	mu     sync.Mutex
	m      map[string]ttp.State
	loaded time.Time
}

var _ ttp.StateSource = (*States)(nil)

// RuleState implements ttp.StateSource.
func (s *States) RuleState(ruleID string) (ttp.State, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ttl := s.TTL
	if ttl <= 0 {
		ttl = 2 * time.Second
	}
	if s.m == nil || time.Since(s.loaded) >= ttl {
		s.refreshLocked()
	}
	st, ok := s.m[ruleID]
	return st, ok
}

// Invalidate makes the next lookup re-read the store (after a write).
func (s *States) Invalidate() {
	s.mu.Lock()
	s.loaded = time.Time{}
	s.mu.Unlock()
}

func (s *States) refreshLocked() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	rows, err := s.Store.RuleStates(ctx)
	s.loaded = time.Now()
	if err != nil {
		if s.Log != nil {
			s.Log.Warn("ttp: reading rule states", "err", err)
		}
		if s.m == nil {
			s.m = map[string]ttp.State{}
		}
		return
	}
	m := make(map[string]ttp.State, len(rows))
	for id, r := range rows {
		st := ttp.State{Mode: ttp.Mode(r.State)}
		if r.ConfidenceMax != nil {
			st.ConfidenceMax = *r.ConfidenceMax
		}
		if r.ExpiresAt != nil {
			st.ExpiresAt = *r.ExpiresAt
		}
		m[id] = st
	}
	s.m = m
}

// WatchDir reloads the engine's rules from dir (laid over the embedded
// ones) whenever a rules file's modification time or the set of files
// changes, checking every interval (default 5 s), and whenever reload
// receives a value (SIGHUP). A directory with an error keeps the current
// rules and logs the error. After each reload it calls reloaded (when not
// nil) with the new set, e.g. to mirror it into ttp_rule. It returns when
// ctx ends.
func WatchDir(ctx context.Context, e *ttp.Engine, dir string, interval time.Duration, reload <-chan os.Signal, log *slog.Logger, reloaded func(*ttp.RuleSet)) {
	if interval <= 0 {
		interval = 5 * time.Second
	}
	last := fingerprint(dir)
	Poll(ctx, interval, reload, func(force bool) {
		fp := fingerprint(dir)
		if !force && fp == last {
			return
		}
		last = fp
		if err := e.ReloadDir(dir); err != nil {
			log.Error("ttp: rules not reloaded; the current ones stay", "dir", dir, "err", err)
			return
		}
		log.Info("ttp: rules reloaded", "dir", dir, "rules", e.Rules().Len())
		if reloaded != nil {
			reloaded(e.Rules())
		}
	})
}

// Poll calls check every interval, and with force set whenever reload
// receives a value (SIGHUP), until ctx ends: the loop of every file the
// tagging engine reloads (rules, the fingerprint catalogue).
func Poll(ctx context.Context, interval time.Duration, reload <-chan os.Signal, check func(force bool)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-reload:
			check(true)
		case <-t.C:
			check(false)
		}
	}
}

// fingerprint summarises the YAML files of dir: names, sizes, mtimes.
func fingerprint(dir string) string {
	var b []byte
	matches, _ := filepath.Glob(filepath.Join(dir, "*.y*ml"))
	for _, m := range matches {
		fi, err := os.Stat(m)
		if err != nil {
			continue
		}
		b = append(b, m...)
		b = append(b, fi.ModTime().UTC().Format(time.RFC3339Nano)...)
		b = append(b, byte(fi.Size()), byte(fi.Size()>>8), byte(fi.Size()>>16))
	}
	return string(b)
}
