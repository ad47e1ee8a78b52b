package attack

import (
	"errors"
	"strings"
	"testing"
)

func TestDefaultCatalogue(t *testing.T) {
	c := Default()
	if c.Release != "18.1" || c.Domain != "enterprise-attack" {
		t.Fatalf("release %q domain %q", c.Release, c.Domain)
	}
	if c.Copyright != Copyright {
		t.Errorf("copyright line differs from the embedded file: %q", c.Copyright)
	}
	if !strings.Contains(License, "MITRE") {
		t.Error("licence text not embedded")
	}
	if n := len(c.Tactics()); n != 14 {
		t.Errorf("tactics: %d, want 14", n)
	}
}

func TestLookups(t *testing.T) {
	c := Default()
	tests := []struct {
		id, name, parent, tactic string
		sub                      bool
		url                      string
	}{
		{"T1059", "Command and Scripting Interpreter", "T1059", "execution", false, "https://attack.mitre.org/techniques/T1059"},
		{"T1059.004", "Unix Shell", "T1059", "TA0002", true, "https://attack.mitre.org/techniques/T1059/004"},
		{"T1003.008", "/etc/passwd and /etc/shadow", "T1003", "TA0006", true, "https://attack.mitre.org/techniques/T1003/008"},
	}
	for _, tc := range tests {
		t.Run(tc.id, func(t *testing.T) {
			tech, ok := c.Technique(tc.id)
			if !ok {
				t.Fatal("not found")
			}
			if tech.Name != tc.name || tech.Parent() != tc.parent || tech.SubTechnique != tc.sub || tech.URL != tc.url {
				t.Errorf("got %+v", tech)
			}
			if !strings.HasPrefix(tech.STIXID, "attack-pattern--") {
				t.Errorf("stix id %q", tech.STIXID)
			}
			if !c.HasTactic(tc.id, tc.tactic) {
				t.Errorf("%s not under %s", tc.id, tc.tactic)
			}
			if err := c.Check(tc.id); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestCheckRejectsRevokedDeprecatedUnknown(t *testing.T) {
	c := Default()
	var revoked, deprecated string
	for _, tech := range c.Techniques() {
		if tech.Revoked && revoked == "" {
			revoked = tech.ID
		}
		if tech.Deprecated && !tech.Revoked && deprecated == "" {
			deprecated = tech.ID
		}
	}
	for _, tc := range []struct {
		id   string
		want error
	}{{revoked, ErrRevoked}, {deprecated, ErrObsolete}, {"T9999", ErrUnknown}, {"T1059.999", ErrUnknown}} {
		if err := c.Check(tc.id); !errors.Is(err, tc.want) {
			t.Errorf("Check(%q) = %v, want %v", tc.id, err, tc.want)
		}
	}
}

func TestTacticByIDAndName(t *testing.T) {
	c := Default()
	a, ok1 := c.Tactic("TA0006")
	b, ok2 := c.Tactic("credential-access")
	if !ok1 || !ok2 || a != b || a.Name != "Credential Access" {
		t.Fatalf("%+v %+v", a, b)
	}
	if _, ok := c.Tactic("TA9999"); ok {
		t.Error("unknown tactic found")
	}
}

func TestGroups(t *testing.T) {
	c := Default()
	gs, ok := c.Groups("T1059.004")
	if !ok || len(gs) == 0 {
		t.Fatalf("no groups for T1059.004 (%v)", ok)
	}
	for i, g := range gs {
		if !strings.HasPrefix(g.ID, "G") || g.Name == "" || !strings.HasPrefix(g.URL, "https://attack.mitre.org/groups/") {
			t.Errorf("group %+v", g)
		}
		if i > 0 && gs[i-1].ID >= g.ID {
			t.Errorf("groups not sorted: %s before %s", gs[i-1].ID, g.ID)
		}
	}
	if _, ok := c.Groups("T0000"); ok {
		t.Error("unknown technique reported groups")
	}
	if gs, ok := c.Groups("T1059.004"); ok && len(c.SubTechniques("T1059")) < 5 {
		t.Errorf("sub-techniques of T1059: %d (groups %d)", len(c.SubTechniques("T1059")), len(gs))
	}
}

func TestLoadRejectsUnknownFields(t *testing.T) {
	_, err := Load(strings.NewReader(`{"attack_release":"1","bogus":1}`))
	if err == nil {
		t.Fatal("unknown field accepted")
	}
}
