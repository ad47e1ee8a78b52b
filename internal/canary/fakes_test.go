package canary

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"sync"
	"time"

	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/persona"
)

// fakeTokens is an in-memory Tokens.
type fakeTokens struct {
	mu        sync.Mutex
	tokens    map[string]Token // by uuid
	triggers  []Trigger
	createErr error
}

func newFakeTokens(ts ...Token) *fakeTokens {
	f := &fakeTokens{tokens: map[string]Token{}}
	for _, t := range ts {
		f.tokens[t.UUID] = t
	}
	return f
}

func (f *fakeTokens) TokenBySlug(_ context.Context, slug string) (Token, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, t := range f.tokens {
		if t.Slug == slug {
			return t, true, nil
		}
	}
	return Token{}, false, nil
}

func (f *fakeTokens) TokenByAccessKey(_ context.Context, id string) (Token, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, t := range f.tokens {
		if t.AccessKeyID != "" && t.AccessKeyID == id {
			return t, true, nil
		}
	}
	return Token{}, false, nil
}

func (f *fakeTokens) CreateToken(_ context.Context, t Token) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.createErr != nil {
		return f.createErr
	}
	if t.UUID == "" || t.Slug == "" {
		return errors.New("token without uuid or slug")
	}
	f.tokens[t.UUID] = t
	return nil
}

func (f *fakeTokens) RecordTrigger(_ context.Context, tr Trigger) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if tr.UUID == "" {
		return errors.New("trigger without uuid")
	}
	t := f.tokens[tr.TokenUUID]
	t.TriggerCount++
	t.LastTriggeredAt = tr.OccurredAt
	f.tokens[tr.TokenUUID] = t
	f.triggers = append(f.triggers, tr)
	return nil
}

func (f *fakeTokens) SetTokenState(_ context.Context, id, state string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.tokens[id]
	if !ok {
		return errors.New("no such token")
	}
	t.State = state
	f.tokens[id] = t
	return nil
}

func (f *fakeTokens) Triggers() []Trigger {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Trigger(nil), f.triggers...)
}

func (f *fakeTokens) Get(id string) Token {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tokens[id]
}

// fakeSink records events and notices.
type fakeSink struct {
	mu      sync.Mutex
	events  []event.Event
	notices []notice
}

type notice struct {
	Subject string
	Payload map[string]any
}

func (s *fakeSink) Emit(ev event.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, ev)
}

func (s *fakeSink) Publish(subject string, payload any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, _ := payload.(map[string]any)
	s.notices = append(s.notices, notice{subject, m})
}

func (s *fakeSink) Events() []event.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]event.Event(nil), s.events...)
}

func (s *fakeSink) Notices() []notice {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]notice(nil), s.notices...)
}

// fakeFiles is an in-memory decky filesystem.
type fakeFiles struct {
	mu       sync.Mutex
	files    map[string]fakeFile // decky + ":" + path
	writeErr error
}

type fakeFile struct {
	content []byte
	mode    fs.FileMode
	mtime   time.Time
}

func newFakeFiles() *fakeFiles { return &fakeFiles{files: map[string]fakeFile{}} }

func (f *fakeFiles) WriteFile(_ context.Context, decky, path string, content []byte, mode fs.FileMode, mtime time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.writeErr != nil {
		return f.writeErr
	}
	f.files[decky+":"+path] = fakeFile{append([]byte(nil), content...), mode, mtime}
	return nil
}

func (f *fakeFiles) RemoveFile(_ context.Context, decky, path string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.files, decky+":"+path)
	return nil
}

func (f *fakeFiles) Get(decky, path string) (fakeFile, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ff, ok := f.files[decky+":"+path]
	return ff, ok
}

var quietLog = slog.New(slog.DiscardHandler)

// testPersona is a fixed persona for decky-01.
func testPersona(name string) *persona.Persona {
	return persona.New([]byte("canary-test-install-secret"), name)
}

func runningPersonas(names ...string) Personas {
	ps := map[string]*persona.Persona{}
	for _, n := range names {
		ps[n] = testPersona(n)
	}
	return func(d string) (*persona.Persona, bool) {
		p, ok := ps[d]
		return p, ok
	}
}

// testToken is a planted token of generator gen.
func testToken(gen, slug string) Token {
	g, _ := LookupGenerator(gen)
	return Token{
		UUID: "tok-" + slug, Kind: g.Kind, DeckyName: "decky-01", Generator: gen, PlacementPath: "/root/bait",
		Slug: slug, SecretSeed: "seed-" + slug, FingerprintNonce: "nonce-" + slug, State: StatePlanted,
		CreatedAt: time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC),
	}
}
