package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
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

// ticket remembers the token that asked for it: a stream opened with the
// ticket lives only as long as that token would.
type ticket struct {
	token   identity // user (uuid only), jti, issuedAt, expires of the token
	expires time.Time
}

var errTicketsFull = newError(http.StatusServiceUnavailable, "Too many outstanding stream tickets; try again shortly")

func newTickets(ttl time.Duration, max int) *tickets {
	return &tickets{ttl: ttl, max: max, m: map[[sha256.Size]byte]ticket{}, now: time.Now}
}

// issue mints a ticket on behalf of the caller id.
func (t *tickets) issue(id *identity) (string, error) {
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
	tok := identity{user: store.User{UUID: id.user.UUID}, jti: id.jti, issuedAt: id.issuedAt, expires: id.expires}
	t.m[sha256.Sum256([]byte(raw))] = ticket{token: tok, expires: now.Add(t.ttl)}
	return raw, nil
}

// redeem consumes a ticket and returns the token it stands for; false when
// the ticket is unknown, used or expired.
func (t *tickets) redeem(raw string) (identity, bool) {
	k := sha256.Sum256([]byte(raw))
	t.mu.Lock()
	defer t.mu.Unlock()
	tk, ok := t.m[k]
	delete(t.m, k)
	if !ok || t.now().After(tk.expires) {
		return identity{}, false
	}
	return tk.token, true
}

// redeemTicket authenticates a stream request by ticket. The token behind
// the ticket is checked again, so a logout or password change since the
// ticket was issued makes it worthless.
func (s *server) redeemTicket(ctx context.Context, raw string) (*identity, error) {
	id, ok := s.tickets.redeem(raw)
	if !ok {
		return nil, errNotAuthenticated
	}
	u, err := s.checkToken(ctx, id.user.UUID, id.jti, id.issuedAt)
	if err != nil {
		return nil, err
	}
	id.user = u
	return &id, nil
}
