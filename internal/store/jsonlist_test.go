package store

import (
	"encoding/json"
	"slices"
	"testing"
)

func TestDecodeList(t *testing.T) {
	for _, in := range []string{`[]`, `["ssh"]`, `["ssh","http"]`, `["a", "b" ,"c"]`, `[ "x" ]`, `["quo\"te"]`, `["é","\u00e9"]`,
		`["a",]`, `["a" "b"]`, `[1,2]`, `not json`, ``, `[""]`, `["a\tb"]`, "[\"a\tb\"]"} {
		t.Run(in, func(t *testing.T) {
			var want []string
			json.Unmarshal([]byte(in), &want)
			if want == nil {
				want = []string{}
			}
			if got := decodeList(in); !slices.Equal(got, want) {
				t.Errorf("decodeList(%q) = %q; encoding/json says %q", in, got, want)
			}
		})
	}
}

func FuzzDecodeList(f *testing.F) {
	for _, s := range []string{`[]`, `["ssh","http"]`, `["a", "b"]`, `["a",]`, `["\""]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, ok := splitPlainList(in)
		if !ok {
			return
		}
		var want []string
		if err := json.Unmarshal([]byte(in), &want); err != nil {
			t.Fatalf("splitPlainList accepted %q, which is not JSON: %v", in, err)
		}
		if want == nil {
			want = []string{}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("splitPlainList(%q) = %q; want %q", in, got, want)
		}
	})
}
