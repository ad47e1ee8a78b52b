package canary

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Sentinel errors of planting (compare with errors.Is).
var (
	ErrUnknownGenerator = errors.New("canary: unknown generator")
	ErrNoDNSZone        = errors.New("canary: no DNS zone configured (set the canary DNS zone to plant dns tokens)")
	ErrDeckyNotRunning  = errors.New("canary: decky is not running")
	ErrBadPath          = errors.New("canary: placement path must be absolute, clean, without .., at most 512 bytes")
)

// maxPathLen bounds a placement path (the canary_tokens column and any
// filesystem are happy with it).
const maxPathLen = 512

// Planter plants, re-plants and revokes bait in deckies' filesystems.
type Planter struct {
	Tokens   Tokens
	Files    Files
	Personas Personas
	Sink     Sink
	// HTTPBase is the callback base of http tokens (http://host:port as
	// the attacker's side reaches the canary listener).
	HTTPBase string
	// DNSZone is the zone delegated to the DNS listener; "" disables dns
	// generators.
	DNSZone string
	Log     *slog.Logger
	// Now is the clock (nil: time.Now); tests pin it.
	Now func() time.Time
}

// PlantRequest asks for one bait file. Path "" means the generator's
// DefaultPath for the decky's persona.
type PlantRequest struct {
	Decky, Generator, Path string
}

func (p *Planter) log() *slog.Logger {
	if p.Log != nil {
		return p.Log
	}
	return slog.Default()
}

func (p *Planter) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// ValidPath checks a placement path: absolute, clean, no .. and no control
// characters (the path ends up in a shell-free exec, but also in logs and
// the dashboard).
func ValidPath(s string) error {
	if s == "" || len(s) > maxPathLen || !strings.HasPrefix(s, "/") || path.Clean(s) != s || s == "/" {
		return fmt.Errorf("%w: %q", ErrBadPath, truncate(s, 80))
	}
	for _, part := range strings.Split(s, "/") {
		if part == ".." {
			return fmt.Errorf("%w: %q", ErrBadPath, truncate(s, 80))
		}
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return fmt.Errorf("%w: control character in %q", ErrBadPath, truncate(s, 80))
		}
	}
	return nil
}

// Plant makes a token, writes its bait into the decky and stores it. A
// write that fails after generation still stores the token, in state
// failed with the reason, so the operator sees what happened.
func (p *Planter) Plant(ctx context.Context, req PlantRequest) (Token, Artifact, error) {
	gen, ok := LookupGenerator(req.Generator)
	if !ok {
		return Token{}, Artifact{}, fmt.Errorf("%w %q", ErrUnknownGenerator, req.Generator)
	}
	if req.Path != "" {
		if err := ValidPath(req.Path); err != nil {
			return Token{}, Artifact{}, err
		}
	}
	if gen.Kind == KindDNS && normZone(p.DNSZone) == "" {
		return Token{}, Artifact{}, fmt.Errorf("%s: %w", gen.Name, ErrNoDNSZone)
	}
	pers, running := p.Personas(req.Decky)
	if !running {
		return Token{}, Artifact{}, fmt.Errorf("%w: %q", ErrDeckyNotRunning, req.Decky)
	}
	target := req.Path
	if target == "" {
		target = gen.DefaultPath(pers)
	}
	tok := Token{
		UUID:             uuid.NewString(),
		Kind:             gen.Kind,
		DeckyName:        req.Decky,
		Generator:        gen.Name,
		PlacementPath:    target,
		Slug:             newSlug(),
		SecretSeed:       randHex(32),
		FingerprintNonce: randHex(16),
		State:            StatePlanted,
		// Seconds: what every store keeps, so a re-plant after a
		// round trip through the database derives the same dates.
		CreatedAt: p.now().UTC().Truncate(time.Second),
	}
	art, err := gen.Make(Params{Token: tok, HTTPBase: p.HTTPBase, DNSZone: p.DNSZone, Persona: pers})
	if err != nil {
		return Token{}, Artifact{}, fmt.Errorf("generate %s: %w", gen.Name, err)
	}
	art.Path = target
	tok.AccessKeyID = art.AccessKeyID
	if werr := p.Files.WriteFile(ctx, req.Decky, target, art.Content, art.Mode, tok.CreatedAt.Add(-art.MtimeOffset)); werr != nil {
		tok.State, tok.LastError = StateFailed, truncate(werr.Error(), 500)
		if err := p.Tokens.CreateToken(ctx, tok); err != nil {
			p.log().Warn("canary: store failed token", "decky", req.Decky, "generator", gen.Name, "err", err)
		}
		return tok, art, fmt.Errorf("plant %s in %s:%s: %w", gen.Name, req.Decky, target, werr)
	}
	if err := p.Tokens.CreateToken(ctx, tok); err != nil {
		// The bait is in place but nothing knows its slug: take it out
		// again rather than leave an orphan that can never fire.
		if rerr := p.Files.RemoveFile(ctx, req.Decky, target); rerr != nil {
			p.log().Warn("canary: remove orphan bait", "decky", req.Decky, "path", target, "err", rerr)
		}
		return Token{}, Artifact{}, fmt.Errorf("store canary token: %w", err)
	}
	p.Sink.Publish("canary."+tok.UUID+".placed", map[string]any{
		"token_id": tok.UUID, "decky_name": tok.DeckyName, "placement_path": tok.PlacementPath,
		"generator": tok.Generator, "kind": tok.Kind,
	})
	p.log().Info("canary planted", "decky", tok.DeckyName, "generator", tok.Generator, "kind", tok.Kind, "path", tok.PlacementPath, "token", tok.UUID)
	return tok, art, nil
}

// Replant writes a planted token's bait again, byte for byte (a decky's
// filesystem does not survive a restart). It publishes nothing: nothing
// new happened.
func (p *Planter) Replant(ctx context.Context, tok Token) error {
	gen, ok := LookupGenerator(tok.Generator)
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownGenerator, tok.Generator)
	}
	pers, running := p.Personas(tok.DeckyName)
	if !running {
		return fmt.Errorf("%w: %q", ErrDeckyNotRunning, tok.DeckyName)
	}
	art, err := gen.Make(Params{Token: tok, HTTPBase: p.HTTPBase, DNSZone: p.DNSZone, Persona: pers})
	if err != nil {
		return fmt.Errorf("generate %s: %w", gen.Name, err)
	}
	if err := p.Files.WriteFile(ctx, tok.DeckyName, tok.PlacementPath, art.Content, art.Mode, tok.CreatedAt.Add(-art.MtimeOffset)); err != nil {
		return fmt.Errorf("replant %s in %s:%s: %w", gen.Name, tok.DeckyName, tok.PlacementPath, err)
	}
	return nil
}

// Revoke removes a token's bait and marks it revoked; its slug keeps
// answering like any other but records nothing. A decky that is gone (the
// file cannot be removed) does not stop the revocation.
func (p *Planter) Revoke(ctx context.Context, tok Token, reason string) error {
	if err := p.Files.RemoveFile(ctx, tok.DeckyName, tok.PlacementPath); err != nil {
		p.log().Warn("canary: remove revoked bait", "decky", tok.DeckyName, "path", tok.PlacementPath, "err", err)
	}
	if err := p.Tokens.SetTokenState(ctx, tok.UUID, StateRevoked); err != nil {
		return fmt.Errorf("revoke canary token %s: %w", tok.UUID, err)
	}
	p.Sink.Publish("canary."+tok.UUID+".revoked", map[string]any{
		"token_id": tok.UUID, "decky_name": tok.DeckyName, "placement_path": tok.PlacementPath, "reason": reason,
	})
	p.log().Info("canary revoked", "decky", tok.DeckyName, "token", tok.UUID, "reason", reason)
	return nil
}

// Preview regenerates a token's bait without writing it. A decky that is
// not running has no persona; the bait is then made with the persona-less
// fallback (names differ from the planted file's).
func (p *Planter) Preview(tok Token) (Artifact, error) {
	gen, ok := LookupGenerator(tok.Generator)
	if !ok {
		return Artifact{}, fmt.Errorf("%w %q", ErrUnknownGenerator, tok.Generator)
	}
	var params Params
	params.Token, params.HTTPBase, params.DNSZone = tok, p.HTTPBase, p.DNSZone
	if p.Personas != nil {
		if pers, ok := p.Personas(tok.DeckyName); ok {
			params.Persona = pers
		}
	}
	art, err := gen.Make(params)
	if err != nil {
		return Artifact{}, fmt.Errorf("generate %s: %w", gen.Name, err)
	}
	if tok.PlacementPath != "" {
		art.Path = tok.PlacementPath
	}
	return art, nil
}

// slugAlphabet is lower-case base32: valid in a URL path and a DNS label.
const slugAlphabet = "abcdefghijklmnopqrstuvwxyz234567"

// newSlug draws a 20-character slug (100 bits) from crypto/rand.
func newSlug() string {
	var b [20]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	for i := range b {
		b[i] = slugAlphabet[b[i]&31]
	}
	return string(b[:])
}

func randHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
