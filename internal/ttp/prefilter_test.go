package ttp

import (
	"regexp"
	"testing"
)

// TestPrefilterShapes pins the literal trees of regex forms the rules use.
// Soundness (never rejecting a match) is FuzzTagCommand's job.
func TestPrefilterShapes(t *testing.T) {
	cases := []struct {
		name, re, want string
	}{
		{"literal", `\buname\b`, `"uname"`},
		{"factored alternation is multiplied out", `(^|;\s*)(ifconfig|ip\s+a|iwconfig)(\s|$)`, `("ifconfig" | "ip" | "iwconfig")`},
		{"concatenation needs every part", `(?i)\b(echo|cat)\b.*(bitcoin|monero)`, `(("echo" | "cat") & ("bitcoin" | "monero"))`},
		{"alternation of concatenations", `\bgpg\s+-c|\bopenssl\s+enc\b.*\s-in\s`, `(("gpg" & "-c") | ("openssl" & "enc" & "-in"))`},
		{"small class", `/dev/(tcp|udp)/[sv]d`, `("/dev/tcp/sd" | "/dev/tcp/vd" | "/dev/udp/sd" | "/dev/udp/vd")`},
		{"case folded", `(?i)HISTFILE=/dev/null`, `"histfile=/dev/null"`},
		{"one-letter branch needs nothing", `(^|;)(id|w)(\s|$)`, `*`},
		{"optional part", `\bpython[23]?\s+-c`, `(("python" | "python2" | "python3") & "-c")`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := newPrefilter(regexp.MustCompile(tc.re)).String(); got != tc.want {
				t.Errorf("prefilter(%s) = %s, want %s", tc.re, got, tc.want)
			}
		})
	}
}

// TestPrefilterPass: the tree's verdicts on lower-cased text, bigram
// rejection included.
func TestPrefilterPass(t *testing.T) {
	p := newPrefilter(regexp.MustCompile(`(?i)\b(echo|cat)\b.*(bitcoin|monero)`))
	for text, want := range map[string]bool{
		"echo pay in BITCOIN": true, "cat monero.txt": true, "echo hello": false, "bitcoin": false, "": false,
	} {
		l := newLowered(text)
		if got := p.pass(&l); got != want {
			t.Errorf("pass(%q) = %v, want %v", text, got, want)
		}
	}
}
