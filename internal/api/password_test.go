package api

import (
	"context"
	"strings"
	"testing"
	"unicode"

	"golang.org/x/crypto/bcrypt"
)

func TestEnsureAdmin(t *testing.T) {
	tests := []struct {
		name     string
		password string
		wantErr  string
	}{
		{"given password", testPassword, ""},
		{"generated password", "", ""},
		{"too short", "short", "DECNET_ADMIN_PASSWORD"},
		{"too long", strings.Repeat("p", 73), "DECNET_ADMIN_PASSWORD"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			ctx := context.Background()
			created, pw, err := EnsureAdmin(ctx, e.st, tc.password)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || created {
					t.Fatalf("created=%v err=%v, want an error naming %s", created, err, tc.wantErr)
				}
				if strings.Contains(err.Error(), tc.password) {
					t.Errorf("error repeats the password: %v", err)
				}
				return
			}
			if err != nil || !created {
				t.Fatalf("created=%v err=%v", created, err)
			}
			login := tc.password
			if tc.password == "" {
				if len(pw) != generatedPasswordLen || strings.IndexFunc(pw, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) >= 0 {
					t.Fatalf("generated password %q", pw)
				}
				login = pw
			} else if pw != "" {
				t.Errorf("returned the caller's password")
			}
			u, err := e.st.UserByName(ctx, AdminUser)
			if err != nil {
				t.Fatal(err)
			}
			if u.Role != RoleAdmin || !u.MustChangePassword {
				t.Errorf("admin %+v", u)
			}
			if bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(login)) != nil {
				t.Error("stored hash does not match the password")
			}
			again, pw2, err := EnsureAdmin(ctx, e.st, "another long password")
			if again || pw2 != "" || err != nil {
				t.Errorf("second call: created=%v pw=%q err=%v, want no change", again, pw2, err)
			}
		})
	}
}

func TestRandomPasswordsDiffer(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		p := randomPassword(generatedPasswordLen)
		if seen[p] {
			t.Fatalf("repeated password %q", p)
		}
		seen[p] = true
	}
}

func TestUnknownUserCostsABcrypt(t *testing.T) {
	h := newHasher()
	ok, err := h.verify(context.Background(), "", testPassword)
	if ok || err != nil || h.dummy == nil {
		t.Fatalf("verify unknown user: ok=%v err=%v dummy=%v", ok, err, h.dummy != nil)
	}
	if cost, _ := bcrypt.Cost(h.dummy); cost != bcryptCost {
		t.Errorf("dummy hash cost %d, want %d", cost, bcryptCost)
	}
}
