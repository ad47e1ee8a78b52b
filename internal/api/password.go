package api

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"unicode/utf8"

	"github.com/google/uuid"
	"golang.org/x/crypto/bcrypt"

	"github.com/decnet-go/decnet/internal/store"
)

// Password rules (spec/data-api.md §4).
const (
	minPasswordChars = 12
	maxPasswordBytes = 72 // bcrypt ignores anything longer; refuse rather than truncate
	// generatedPasswordLen is the length of a password EnsureAdmin makes up.
	generatedPasswordLen = 20
	// AdminUser is the account EnsureAdmin creates.
	AdminUser = "admin"
)

// bcryptCost is the work factor of every stored hash. Tests lower it.
var bcryptCost = 12

// hasher runs bcrypt with a bound on how many hashes run at once, so a
// flood of logins queues instead of starving the process of CPU.
type hasher struct {
	slots chan struct{}

	dummyOnce sync.Once
	dummy     []byte // hash compared against for unknown users
}

func newHasher() *hasher {
	return &hasher{slots: make(chan struct{}, runtime.GOMAXPROCS(0))}
}

func (h *hasher) acquire(ctx context.Context) error {
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *hasher) release() { <-h.slots }

// hash returns the bcrypt hash of pw.
func (h *hasher) hash(ctx context.Context, pw string) (string, error) {
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	b, err := bcrypt.GenerateFromPassword([]byte(pw), bcryptCost)
	return string(b), err
}

// verify reports whether pw matches hash. An empty hash (unknown user) is
// checked against a dummy hash of the same cost, so an unknown name takes as
// long to refuse as a wrong password.
func (h *hasher) verify(ctx context.Context, hash, pw string) (bool, error) {
	if err := h.acquire(ctx); err != nil {
		return false, err
	}
	defer h.release()
	if hash == "" {
		h.dummyOnce.Do(func() {
			h.dummy, _ = bcrypt.GenerateFromPassword([]byte("decnet-timing-equaliser"), bcryptCost)
		})
		bcrypt.CompareHashAndPassword(h.dummy, []byte(pw))
		return false, nil
	}
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw)) == nil, nil
}

// checkNewPassword enforces the rules for a password being set: 12 to 72
// characters and at most 72 bytes of UTF-8.
func checkNewPassword(pw string) error {
	if utf8.RuneCountInString(pw) < minPasswordChars || len(pw) > maxPasswordBytes {
		return fmt.Errorf("must be %d to %d characters and at most %d bytes", minPasswordChars, maxPasswordBytes, maxPasswordBytes)
	}
	return nil
}

// EnsureAdmin creates the first account when there is none: user "admin",
// role admin, who must change the password at first login. The password is
// the given one (DECNET_ADMIN_PASSWORD, checked like any new password) or,
// when that is empty, a random one of 20 characters returned as pw so the
// caller can show it once. pw is empty unless it was generated here.
//
// With an account already present, EnsureAdmin changes nothing and returns
// created == false.
func EnsureAdmin(ctx context.Context, st AdminStore, password string) (created bool, pw string, err error) {
	n, err := st.CountUsers(ctx)
	if err != nil {
		return false, "", fmt.Errorf("api: count users: %w", err)
	}
	if n > 0 {
		return false, "", nil
	}
	if password != "" {
		if err := checkNewPassword(password); err != nil {
			return false, "", fmt.Errorf("api: DECNET_ADMIN_PASSWORD %v", err)
		}
	} else {
		pw = randomPassword(generatedPasswordLen)
		password = pw
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcryptCost)
	if err != nil {
		return false, "", fmt.Errorf("api: hash admin password: %w", err)
	}
	err = st.CreateUser(ctx, store.User{
		UUID:               uuid.NewString(),
		Username:           AdminUser,
		PasswordHash:       string(hash),
		Role:               RoleAdmin,
		MustChangePassword: true,
	})
	if errors.Is(err, store.ErrConflict) {
		return false, "", nil // another process made it first
	}
	if err != nil {
		return false, "", fmt.Errorf("api: create admin user: %w", err)
	}
	return true, pw, nil
}

// randomPassword draws n characters uniformly from letters and digits.
func randomPassword(n int) string {
	const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789" // no 0/O, 1/l/I
	const limit = 256 - 256%len(alphabet)                                        // reject bytes that would bias
	out := make([]byte, 0, n)
	buf := make([]byte, 2*n)
	for len(out) < n {
		rand.Read(buf)
		for _, b := range buf {
			if int(b) < limit && len(out) < n {
				out = append(out, alphabet[int(b)%len(alphabet)])
			}
		}
	}
	return string(out)
}
