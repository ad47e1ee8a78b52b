package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/event/eventtest"
)

// TestReadersEveryDialect runs the readers the API and the node use over
// an ingested attack wave, on every dialect: each answers without error
// and with the counts the wave implies.
func TestReadersEveryDialect(t *testing.T) {
	forEachDialect(t, func(t *testing.T, st *Store) {
		ctx := context.Background()
		wave := eventtest.AttackWave(18)
		if _, err := st.IngestBatch(ctx, wave); err != nil {
			t.Fatal(err)
		}
		ip := wave[0].SrcIP
		checks := []struct {
			name string
			run  func() (int, error)
			want int
		}{
			{"events", func() (int, error) { _, n, err := st.Events(ctx, Page{Limit: 5}); return n, err }, 18},
			{"events after", func() (int, error) { r, err := st.EventsAfter(ctx, 0, 100); return len(r), err }, 18},
			{"events in range", func() (int, error) {
				_, n, err := st.EventsIn(ctx, EventQuery{Page: Page{Limit: 5}, Since: time.Unix(0, 0), Until: time.Now().Add(time.Hour)})
				return n, err
			}, 18},
			{"histogram", func() (int, error) {
				b, err := st.EventHistogram(ctx, EventQuery{}, time.Minute)
				sum := 0
				for _, x := range b {
					sum += x.Count
				}
				return sum, err
			}, 18},
			{"event search", func() (int, error) { _, n, err := st.Events(ctx, Page{Limit: 5, Search: "service:ssh"}); return n, err }, 9},
			{"attackers", func() (int, error) { _, n, err := st.Attackers(ctx, Page{Limit: 5}); return n, err }, 2},
			{"attackers active", func() (int, error) { _, n, err := st.AttackersSorted(ctx, Page{Limit: 5}, SortActive); return n, err }, 2},
			{"sessions", func() (int, error) { _, n, err := st.Sessions(ctx, Page{Limit: 5}); return n, err }, 2},
			{"credentials", func() (int, error) { _, n, err := st.Credentials(ctx, Page{Limit: 5, AttackerIP: ip}); return n, err }, 3},
			{"commands", func() (int, error) { _, n, err := st.Commands(ctx, ip, 10, 0); return n, err }, 4},
			{"service activity", func() (int, error) {
				a, err := st.AttackerServiceActivity(ctx, ip)
				return len(a.Interacted) + len(a.Scanned), err
			}, 1},
			{"stats", func() (int, error) { s, err := st.Stats(ctx); return s.Events + s.Attackers, err }, 20},
			{"max event id", func() (int, error) { id, err := st.MaxEventID(ctx); return int(min(id, 1)), err }, 1},
		}
		for _, c := range checks {
			t.Run(c.name, func(t *testing.T) {
				got, err := c.run()
				if err != nil {
					t.Fatal(err)
				}
				if got != c.want {
					t.Errorf("got %d; want %d", got, c.want)
				}
			})
		}
	})
}

// TestUsersEveryDialect: accounts, roles and token revocation behave the
// same on every dialect.
func TestUsersEveryDialect(t *testing.T) {
	forEachDialect(t, func(t *testing.T, st *Store) {
		ctx := context.Background()
		u := User{UUID: newUUID(), Username: "admin", PasswordHash: "h", Role: "admin", MustChangePassword: true}
		if err := st.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		dup := u
		dup.UUID = newUUID()
		if err := st.CreateUser(ctx, dup); !errors.Is(err, ErrConflict) {
			t.Errorf("duplicate user err = %v; want ErrConflict", err)
		}
		other := User{UUID: newUUID(), Username: "Admin", PasswordHash: "h", Role: "viewer"}
		if err := st.CreateUser(ctx, other); err != nil {
			t.Errorf("user names differing in case are distinct accounts: %v", err)
		}
		got, err := st.UserByName(ctx, "admin")
		if err != nil || !got.MustChangePassword || got.UUID != u.UUID {
			t.Errorf("user = %+v, %v", got, err)
		}
		if err := st.SetPassword(ctx, u.UUID, "h2", false, 42); err != nil {
			t.Fatal(err)
		}
		if got, _ := st.UserByUUID(ctx, u.UUID); got.MustChangePassword || got.TokensValidFrom != 42 {
			t.Errorf("after SetPassword %+v", got)
		}
		if err := st.RevokeToken(ctx, "jti-1", u.UUID, time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := st.RevokeToken(ctx, "jti-1", u.UUID, time.Now().Add(time.Hour)); err != nil {
			t.Errorf("revoking twice: %v", err)
		}
		if r, err := st.TokenRevoked(ctx, "jti-1"); err != nil || !r {
			t.Errorf("TokenRevoked = %v, %v", r, err)
		}
		if n, err := st.CountAdmins(ctx); err != nil || n != 1 {
			t.Errorf("admins = %d, %v", n, err)
		}
		if all, err := st.Users(ctx); err != nil || len(all) != 2 {
			t.Errorf("users = %d, %v", len(all), err)
		}
		if err := st.SetState(ctx, "cursor", "1"); err != nil {
			t.Fatal(err)
		}
		if err := st.SetState(ctx, "cursor", "2"); err != nil {
			t.Fatal(err)
		}
		if v, err := st.State(ctx, "cursor"); err != nil || v != "2" {
			t.Errorf("state = %q, %v", v, err)
		}
	})
}
