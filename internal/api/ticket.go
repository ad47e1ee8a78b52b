package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"sync"
	"time"

	"github.com/decnet-go/decnet/internal/store"
)

// SSE ticket rules (spec/data-api.md §3.14).
const (
	ticketTTL  = 60 * time.Second
	maxTickets = 10000
)

// tickets are short-lived, single-use credentials for EventSource, which
// cannot send an Authorization header. They live in memory, so a ticket
// works only on the process that issued it.
//
// The map is keyed by the SHA-256 of the ticket, so neither a lookup's
// timing nor a memory dump gives a usable ticket away.
type tickets struct {
	mu  sync.Mutex
	ttl time.Duration
	max int
	m   map[[sha256.Size]byte]ticket
	now func() time.Time
}

type ticket struct {
	user    string // uuid
	expires time.Time
}

var errTicketsFull = newError(503, "Too many outstanding stream tickets; try again shortly")

func newTickets(ttl time.Duration, max int) *tickets {
	return &tickets{ttl: ttl, max: max, m: map[[sha256.Size]byte]ticket{}, now: time.Now}
}

// issue mints a ticket for a user.
func (t *tickets) issue(userUUID string) (string, error) {
	b := make([]byte, 32)
	rand.Read(b)
	raw := base64.RawURLEncoding.EncodeToString(b)
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	if len(t.m) >= t.max {
		for k, v := range t.m {
			if now.After(v.expires) {
				delete(t.m, k)
			}
		}
		if len(t.m) >= t.max {
			return "", errTicketsFull
		}
	}
	t.m[sha256.Sum256([]byte(raw))] = ticket{user: userUUID, expires: now.Add(t.ttl)}
	return raw, nil
}

// redeem consumes a ticket and returns its user; false when the ticket is
// unknown, used or expired.
func (t *tickets) redeem(raw string) (string, bool) {
	k := sha256.Sum256([]byte(raw))
	t.mu.Lock()
	defer t.mu.Unlock()
	tk, ok := t.m[k]
	delete(t.m, k)
	if !ok || t.now().After(tk.expires) {
		return "", false
	}
	return tk.user, true
}

// redeemTicket authenticates a stream request by ticket. The user is read
// again, so a user deleted since the ticket was issued gets nothing.
func (s *server) redeemTicket(ctx context.Context, raw string) (*identity, error) {
	userUUID, ok := s.tickets.redeem(raw)
	if !ok {
		return nil, errNotAuthenticated
	}
	u, err := s.st.UserByUUID(ctx, userUUID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errNotAuthenticated
	}
	if err != nil {
		return nil, err
	}
	return &identity{user: u}, nil
}
