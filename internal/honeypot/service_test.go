package honeypot

import (
	"context"
	"net"
	"reflect"
	"strings"
	"testing"
)

// fakeService is a Service that does nothing; name picks its slug.
type fakeService struct{ name string }

func (f fakeService) Name() string { return f.name }
func (fakeService) Ports() []Port  { return []Port{{Number: 1, Proto: "tcp"}} }
func (fakeService) Schema() Schema { return nil }
func (fakeService) Serve(ctx context.Context, _ net.Listener, _ Env) error {
	<-ctx.Done()
	return nil
}

func ctor(name string) func() Service { return func() Service { return fakeService{name} } }

func TestRegistry(t *testing.T) {
	r := NewRegistry(ctor("telnet"), ctor("ssh"), ctor("http"))
	if got, want := r.Names(), []string{"http", "ssh", "telnet"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Names() = %v, want %v", got, want)
	}
	tests := []struct {
		name    string
		service string
		wantErr []string
	}{
		{name: "known", service: "ssh"},
		{name: "unknown names it and the known ones", service: "gopher", wantErr: []string{`"gopher"`, "http ssh telnet"}},
		{name: "empty", service: "", wantErr: []string{`""`}},
		{name: "case matters", service: "SSH", wantErr: []string{`"SSH"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := r.New(tc.service)
			if tc.wantErr == nil {
				if err != nil || s == nil || s.Name() != tc.service {
					t.Fatalf("New(%q) = %v, %v", tc.service, s, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("New(%q) = %v, want an error", tc.service, s)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("New(%q) error %q does not contain %s", tc.service, err, w)
				}
			}
		})
	}
}

func TestRegistryDuplicatePanics(t *testing.T) {
	defer func() {
		r := recover()
		if r == nil {
			t.Fatal("NewRegistry with two ssh services did not panic")
		}
		if msg, _ := r.(string); !strings.Contains(msg, "ssh") {
			t.Errorf("panic %v does not name the service", r)
		}
	}()
	NewRegistry(ctor("ssh"), ctor("http"), ctor("ssh"))
}
