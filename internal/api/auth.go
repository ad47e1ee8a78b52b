package api

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/decnet-go/decnet/internal/store"
)

// Token claim values, as DECNET mints them.
const (
	tokenIssuer   = "decnet"
	tokenAudience = "decnet-dashboard"
	tokenType     = "access"
	// maxClockSkew is how far in the future a token's iat may lie.
	maxClockSkew = 5 * time.Second
)

// Roles an account may hold. Admin includes everything viewer may do.
const (
	RoleAdmin  = "admin"
	RoleViewer = "viewer"
)

// claims is the payload of an access token. There is no "sub": DECNET puts
// the user id in "uuid".
type claims struct {
	UUID string `json:"uuid"`
	Type string `json:"typ"`
	jwt.RegisteredClaims
}

// identity is the caller of an authenticated request: the user and the
// token it presented (or the token that requested its SSE ticket).
type identity struct {
	user     store.User
	jti      string
	issuedAt int64 // unix seconds
	expires  time.Time
}

// access says who may call a route.
type access int

const (
	// accessViewer: a viewer or admin whose password needs no change.
	accessViewer access = iota
	// accessAny: any valid token, must-change allowed (change-password, logout).
	accessAny
	// accessStream: like accessViewer, by bearer token or SSE ticket.
	accessStream
	// accessAdmin: an admin whose password needs no change.
	accessAdmin
)

// authedFunc is an endpoint that needs a caller.
type authedFunc func(w http.ResponseWriter, r *http.Request, id *identity) error

// authed guards h: the request must authenticate and pass a.
func (s *server) authed(a access, h authedFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := s.authorize(r, a)
		if err != nil {
			return err
		}
		return h(w, r, id)
	}
}

// authorize authenticates r and checks it against a. Authentication fails
// with 401 before any 403, and both come before the route looks anything up.
func (s *server) authorize(r *http.Request, a access) (*identity, error) {
	var (
		id  *identity
		err error
	)
	if t := r.URL.Query().Get("ticket"); a == accessStream && t != "" && r.Header.Get("Authorization") == "" {
		id, err = s.redeemTicket(r.Context(), t)
	} else {
		id, err = s.authenticate(r.Context(), r.Header.Get("Authorization"))
	}
	if err != nil {
		return nil, err
	}
	if err := permit(id.user, a); err != nil {
		return nil, err
	}
	return id, nil
}

// permit checks what a route demands of a user beyond authentication.
func permit(u store.User, a access) error {
	if a == accessAny {
		return nil
	}
	if u.MustChangePassword {
		return errMustChangePassword
	}
	need := RoleViewer
	if a == accessAdmin {
		need = RoleAdmin
	}
	if !roleAllows(u.Role, need) {
		return errInsufficientRole
	}
	return nil
}

// roleAllows reports whether role has at least the rights of need.
func roleAllows(role, need string) bool {
	switch need {
	case RoleViewer:
		return role == RoleViewer || role == RoleAdmin
	case RoleAdmin:
		return role == RoleAdmin
	}
	return false
}

// authenticate verifies the bearer token in an Authorization header value
// and loads its user. Every failure is the same 401 to the client.
func (s *server) authenticate(ctx context.Context, header string) (*identity, error) {
	scheme, raw, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || raw == "" {
		return nil, errNotAuthenticated
	}
	c, err := s.parseToken(strings.TrimSpace(raw))
	if err != nil {
		return nil, errNotAuthenticated
	}
	id := &identity{jti: c.ID, issuedAt: c.IssuedAt.Unix(), expires: c.ExpiresAt.Time}
	if id.user, err = s.checkToken(ctx, c.UUID, id.jti, id.issuedAt); err != nil {
		return nil, err
	}
	return id, nil
}

// checkToken is what a verified token still has to pass against the store:
// its user exists, it was issued after the user's token cut-off and it has
// not been revoked. It returns the user as the store has it now.
func (s *server) checkToken(ctx context.Context, userUUID, jti string, issuedAt int64) (store.User, error) {
	u, err := s.users.get(ctx, userUUID, s.st.UserByUUID)
	if errors.Is(err, store.ErrNotFound) {
		return u, errNotAuthenticated // deleted user
	}
	if err != nil {
		return u, err
	}
	if issuedAt < u.TokensValidFrom {
		return u, errNotAuthenticated // password changed (or reset) since
	}
	revoked, err := s.revoked.revoked(ctx, jti, s.st.TokenRevoked)
	if err != nil {
		return u, err
	}
	if revoked {
		return u, errNotAuthenticated
	}
	return u, nil
}

// recheck tells whether a long-lived request (a stream) may go on: its token
// is still good and its user still passes a.
func (s *server) recheck(ctx context.Context, id *identity, a access) error {
	u, err := s.checkToken(ctx, id.user.UUID, id.jti, id.issuedAt)
	if err != nil {
		return err
	}
	return permit(u, a)
}

// parseToken checks a token's signature, algorithm, issuer, audience,
// expiry and the claims DECNET requires (uuid, jti, iat, typ=access).
func (s *server) parseToken(raw string) (*claims, error) {
	c := &claims{}
	_, err := jwt.ParseWithClaims(raw, c, func(*jwt.Token) (any, error) { return s.secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(tokenIssuer),
		jwt.WithAudience(tokenAudience),
		jwt.WithExpirationRequired(),
	)
	switch {
	case err != nil:
		return nil, err
	case c.UUID == "", c.ID == "", c.Type != tokenType, c.IssuedAt == nil:
		return nil, errors.New("token lacks a required claim")
	case c.IssuedAt.After(time.Now().Add(maxClockSkew)):
		return nil, errors.New("token issued in the future")
	}
	return c, nil
}

// mintToken issues an access token for u.
//
// Token cut-offs (tokens_valid_from) are whole seconds and a token is valid
// when iat >= cut-off. A password change sets the cut-off to the next second,
// so every token minted up to the change dies even within the same second;
// a login during that second is stamped with the cut-off itself, so it works
// at once.
func init() {
	// DECNET (PyJWT) writes a single audience as a plain string; so do we,
	// so tokens look the same to anything that inspects them.
	jwt.MarshalSingleStringAsArray = false
}

func (s *server) mintToken(u store.User, now time.Time) (string, error) {
	iat := max(now.Unix(), u.TokensValidFrom)
	c := claims{
		UUID: u.UUID,
		Type: tokenType,
		RegisteredClaims: jwt.RegisteredClaims{
			ID:        newJTI(),
			Issuer:    tokenIssuer,
			Audience:  jwt.ClaimStrings{tokenAudience},
			IssuedAt:  jwt.NewNumericDate(time.Unix(iat, 0)),
			ExpiresAt: jwt.NewNumericDate(now.Add(s.ttl)),
		},
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(s.secret)
}

// tokenCutoff is the tokens_valid_from that voids every token minted so far.
func tokenCutoff(now time.Time) int64 { return now.Unix() + 1 }

// nextCutoff is the cut-off that voids every token of a user whose cut-off
// is current: past now, and past current too, since a login in the second
// of the last cut-off was stamped with it.
func nextCutoff(current int64, now time.Time) int64 { return max(tokenCutoff(now), current+1) }

// newJTI is a token id: a random UUID in hex, as DECNET uses.
func newJTI() string {
	id := uuid.New()
	return strings.ReplaceAll(id.String(), "-", "")
}
