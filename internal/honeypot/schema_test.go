package honeypot

import (
	"strings"
	"testing"
)

func TestSchemaValidate(t *testing.T) {
	schema := Schema{
		{Key: "banner", Type: "string"},
		{Key: "max_sessions", Type: "int"},
		{Key: "anonymous", Type: "bool"},
		{Key: "flavor", Type: "enum", Enum: []string{"apache", "nginx", "iis"}},
	}
	tests := []struct {
		name string
		cfg  map[string]string
		want []string // substrings of the error; nil: valid
	}{
		{name: "empty", cfg: nil},
		{name: "all valid", cfg: map[string]string{"banner": "SSH-2.0-OpenSSH_8.9", "max_sessions": "-3",
			"anonymous": "TRUE", "flavor": "nginx"}},
		{name: "string takes anything", cfg: map[string]string{"banner": ""}},
		{name: "unknown key", cfg: map[string]string{"bannner": "x"},
			want: []string{`unknown key "bannner"`, "banner", "flavor"}},
		{name: "int not a number", cfg: map[string]string{"max_sessions": "ten"},
			want: []string{`key "max_sessions"`, `"ten"`}},
		{name: "int with fraction", cfg: map[string]string{"max_sessions": "1.5"}, want: []string{`"max_sessions"`}},
		{name: "int empty", cfg: map[string]string{"max_sessions": ""}, want: []string{`"max_sessions"`}},
		{name: "bool", cfg: map[string]string{"anonymous": "yes"}, want: []string{`key "anonymous"`, `"yes"`}},
		{name: "enum", cfg: map[string]string{"flavor": "Apache"},
			want: []string{`key "flavor"`, `"Apache"`, "apache nginx iis"}},
		{name: "several wrong keys name the first in order", cfg: map[string]string{"zz": "1", "flavor": "x", "aa": "1"},
			want: []string{`unknown key "aa"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := schema.Validate(tc.cfg)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want an error naming %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q, want it to contain %s", err, w)
				}
			}
		})
	}
}
