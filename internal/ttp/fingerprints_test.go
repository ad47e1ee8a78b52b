package ttp

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	testHASSH = "ec7378c1a92f5a8dde7e8b7a1ddf33d1"
	testJA3   = "e7d705a3286e19ea42f587b344ee6865"
	testJA4   = "t13d1516h2_8daaf6152771_b186095e22b6"
	testJARM  = "07d14d16d21d21d07c42d41d00041d24a458a375eef0c576d23a7bab9a9fb1"
)

func TestCheckFingerprint(t *testing.T) {
	cases := []struct {
		name, kind, value string
		ok                bool
	}{
		{"hassh", "hassh", testHASSH, true},
		{"hassh_server", "hassh_server", testHASSH, true},
		{"ja3", "ja3_hash", testJA3, true},
		{"ja4", "ja4", testJA4, true},
		{"ja4 quic no alpn", "ja4", "q13i030500_000000000000_000000000000", true},
		{"jarm", "jarm", testJARM, true},
		{"md5 short", "hassh", testHASSH[:31], false},
		{"md5 upper (callers lower-case first)", "ja3_hash", strings.ToUpper(testJA3), false},
		{"md5 not hex", "ja3_hash", "g" + testJA3[1:], false},
		{"jarm as md5", "jarm", testHASSH, false},
		{"md5 as jarm", "hassh", testJARM, false},
		{"ja4 two parts", "ja4", "t13d1516h2_8daaf6152771", false},
		{"ja4 bad protocol", "ja4", "x13d1516h2_8daaf6152771_b186095e22b6", false},
		{"ja4 bad sni", "ja4", "t13x1516h2_8daaf6152771_b186095e22b6", false},
		{"ja4 counts not digits", "ja4", "t13d15a6h2_8daaf6152771_b186095e22b6", false},
		{"ja4 b short", "ja4", "t13d1516h2_8daaf615277_b186095e22b6", false},
		{"ja4 c not hex", "ja4", "t13d1516h2_8daaf6152771_b186095e22bz", false},
		{"unknown kind", "ja3s", testJA3, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := CheckFingerprint(tc.kind, tc.value); (err == nil) != tc.ok {
				t.Errorf("CheckFingerprint(%q, %q) = %v, want ok=%v", tc.kind, tc.value, err, tc.ok)
			}
		})
	}
}

func TestParseFingerprints(t *testing.T) {
	good := "# operator catalogue\nkind,value,label\n\n" +
		"hassh," + strings.ToUpper(testHASSH) + ",Go x/crypto/ssh scanner\n" +
		"  ja3_hash , " + testJA3 + " , Sliver, mTLS implant \r\n" +
		"ja4," + testJA4 + ",curl\n" +
		"jarm," + testJARM + ",Relabelled Cobalt Strike" // no final newline
	fp, err := ParseFingerprints("c.csv", strings.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ kind, value, label string }{
		{"hassh", testHASSH, "Go x/crypto/ssh scanner"},
		{"ja3_hash", testJA3, "Sliver, mTLS implant"},
		{"ja4", testJA4, "curl"},
		{"jarm", testJARM, "Relabelled Cobalt Strike"},
	}
	for _, w := range want {
		if l, ok := fp.LookupFingerprint(w.kind, w.value); !ok || l != w.label {
			t.Errorf("%s %s → %q %v, want %q", w.kind, w.value, l, ok, w.label)
		}
	}

	bad := []struct{ name, body, want string }{
		{"unknown kind", "# x\nhash," + testHASSH + ",x\n", `c.csv:2: kind "hash": unknown (known: hassh, hassh_server, ja3_hash, ja4, jarm)`},
		{"empty kind", "," + testHASSH + ",x\n", `c.csv:1: kind "": unknown`},
		{"bad md5", "\nja3_hash,abc,x\n", `c.csv:2: value "abc": not an MD5`},
		{"bad ja4", "ja4,t13d1516h2-8daaf6152771-b186095e22b6,x\n", `c.csv:1: value "t13d1516h2-8daaf6152771-b186095e22b6": not a JA4`},
		{"bad jarm", "jarm," + testHASSH + ",x\n", `c.csv:1: value "` + testHASSH + `": not a JARM`},
		{"missing label", "hassh," + testHASSH + "\n", `c.csv:1: want "kind,value,label"`},
		{"empty label", "hassh," + testHASSH + ", \n", "c.csv:1: label: empty"},
		{"control in label", "hassh," + testHASSH + ",a\x1bb\n", "c.csv:1: label: holds a control character"},
		{"long label", "hassh," + testHASSH + "," + strings.Repeat("x", 300) + "\n", "c.csv:1: label: longer than"},
		{"duplicate", "hassh," + testHASSH + ",a\n#\nhassh," + strings.ToUpper(testHASSH) + ",b\n", `c.csv:3: value "` + testHASSH + `": hassh listed already on line 1`},
		{"long line", "# " + strings.Repeat("x", 5000) + "\n", "c.csv:1: line longer than 4096 bytes"},
		{"binary", "hassh," + testHASSH + ",\xff\xfe\n", "c.csv:1: not UTF-8 text"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseFingerprints("c.csv", strings.NewReader(tc.body))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
	// The same kind of value under two kinds is two listings.
	if _, err := ParseFingerprints("c.csv", strings.NewReader("hassh,"+testHASSH+",a\nhassh_server,"+testHASSH+",b\n")); err != nil {
		t.Errorf("same value, two kinds: %v", err)
	}
}

func TestParseFingerprintsTooLarge(t *testing.T) {
	line := "# " + strings.Repeat("x", 1000) + "\n"
	body := strings.Repeat(line, maxCatalogueBytes/len(line)+2)
	if _, err := ParseFingerprints("big.csv", strings.NewReader(body)); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("err = %v, want a size error", err)
	}
}

// writeCatalogue writes body to path with a modification time distinct
// from the last write, so that a reload sees a change even on a file
// system with coarse timestamps.
func writeCatalogue(t *testing.T, path, body string, mod time.Time) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, mod, mod); err != nil {
		t.Fatal(err)
	}
}

func TestCatalogue(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fingerprints.csv")
	t0 := time.Now().Add(-time.Hour)
	writeCatalogue(t, path, "hassh,"+testHASSH+",Go scanner\njarm,"+testJARM+",Operator label\n", t0)
	c, err := NewCatalogue(path)
	if err != nil {
		t.Fatal(err)
	}
	c.SetFeeds(Fingerprints{"ja3_hash": {testJA3: "Tofsee (abuse.ch SSLBL)"}, "hassh": {testHASSH: "feed label"}})

	cases := []struct {
		name, kind, value, label string
		ok                       bool
	}{
		{"operator file", "hassh", testHASSH, "Go scanner", true},
		{"operator overrides built-in", "jarm", testJARM, "Operator label", true},
		{"built-in", "jarm", "1dd40d40d00040d1dc1dd40d1dd40d3df2d6a0c2caaa0dc59908f0d3602943", "AsyncRAT C2", true},
		{"feed", "ja3_hash", strings.ToUpper(testJA3), "Tofsee (abuse.ch SSLBL)", true},
		{"kind matters", "hassh_server", testHASSH, "", false},
		{"unknown", "ja4", testJA4, "", false},
		{"oversized value", "jarm", strings.Repeat("a", 10000), "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l, ok := c.LookupFingerprint(tc.kind, tc.value)
			if ok != tc.ok || l != tc.label {
				t.Errorf("LookupFingerprint(%q, %q) = %q, %v; want %q, %v", tc.kind, tc.value, l, ok, tc.label, tc.ok)
			}
		})
	}

	// Unchanged file: no reload.
	if changed, err := c.Reload(false); changed || err != nil {
		t.Errorf("unchanged file: changed=%v err=%v", changed, err)
	}
	// A bad edit is reported with file:line and the old catalogue stays.
	writeCatalogue(t, path, "hassh,"+testHASSH+",Go scanner\nja4,nonsense,x\n", t0.Add(time.Minute))
	if _, err := c.Reload(false); err == nil || !strings.Contains(err.Error(), path+":2: value \"nonsense\"") {
		t.Errorf("bad edit: err = %v", err)
	}
	if l, _ := c.LookupFingerprint("hassh", testHASSH); l != "Go scanner" {
		t.Errorf("after a bad edit the catalogue changed: %q", l)
	}
	// A good edit replaces it.
	writeCatalogue(t, path, "ja4,"+testJA4+",curl\n", t0.Add(2*time.Minute))
	if changed, err := c.Reload(false); !changed || err != nil {
		t.Fatalf("good edit: changed=%v err=%v", changed, err)
	}
	if _, ok := c.LookupFingerprint("ja4", testJA4); !ok || c.Len() != 1 {
		t.Error("good edit not in service")
	}
	if l, _ := c.LookupFingerprint("hassh", testHASSH); l != "feed label" {
		t.Errorf("dropped operator entry should fall through to the feed, got %q", l)
	}
	// Force re-reads an unchanged file (SIGHUP).
	if changed, err := c.Reload(true); !changed || err != nil {
		t.Errorf("forced reload: changed=%v err=%v", changed, err)
	}
	// A removed file is reported once and the catalogue stays.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Reload(false); err == nil {
		t.Error("removed file: no error")
	}
	if _, err := c.Reload(false); err != nil {
		t.Errorf("removed file reported twice: %v", err)
	}
	if _, ok := c.LookupFingerprint("ja4", testJA4); !ok {
		t.Error("removing the file emptied the catalogue")
	}
	writeCatalogue(t, path, "ja4,"+testJA4+",curl\n", t0.Add(150*time.Second))
	if changed, err := c.Reload(false); !changed || err != nil {
		t.Errorf("file back: changed=%v err=%v", changed, err)
	}
	// Feeds can be dropped (intel stopped).
	c.SetFeeds()
	if _, ok := c.LookupFingerprint("ja3_hash", testJA3); ok {
		t.Error("feed still consulted after SetFeeds()")
	}

	// A bad file at start is an error naming the file.
	writeCatalogue(t, path, "jarm,abc,x\n", t0.Add(3*time.Minute))
	if _, err := NewCatalogue(path); err == nil || !strings.Contains(err.Error(), path+":1:") {
		t.Errorf("bad file at start: %v", err)
	}
	if _, err := NewCatalogue(filepath.Join(t.TempDir(), "missing.csv")); err == nil {
		t.Error("missing file at start accepted")
	}
	// No file: built-in values only.
	none, err := NewCatalogue("")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := none.LookupFingerprint("jarm", testJARM); !ok {
		t.Error("built-in JARM missing without a file")
	}
}

// TestCatalogueConcurrent runs lookups while the file reloads and the
// feeds are swapped (for -race).
func TestCatalogueConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fp.csv")
	t0 := time.Now().Add(-time.Hour)
	writeCatalogue(t, path, "hassh,"+testHASSH+",a\n", t0)
	c, err := NewCatalogue(path)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, ok := c.LookupFingerprint("hassh", testHASSH); !ok {
					t.Error("entry vanished during a reload")
					return
				}
				c.LookupFingerprint("ja3_hash", testJA3)
			}
		})
	}
	for i := range 50 {
		writeCatalogue(t, path, fmt.Sprintf("hassh,%s,label %d\n", testHASSH, i), t0.Add(time.Duration(i+1)*time.Second))
		if _, err := c.Reload(false); err != nil {
			t.Fatal(err)
		}
		c.SetFeeds(Fingerprints{"ja3_hash": {testJA3: "x"}})
	}
	close(stop)
	wg.Wait()
}

func TestCatalogueLookupAllocs(t *testing.T) {
	c, err := NewCatalogue("")
	if err != nil {
		t.Fatal(err)
	}
	c.SetFeeds(Fingerprints{"ja3_hash": {testJA3: "x"}})
	for _, v := range []struct{ kind, value string }{
		{"jarm", strings.ToUpper(testJARM)}, {"ja3_hash", testJA3}, {"ja4", testJA4}, {"hassh", "x"},
	} {
		if n := testing.AllocsPerRun(100, func() { c.LookupFingerprint(v.kind, v.value) }); n != 0 {
			t.Errorf("LookupFingerprint(%s) allocates %.0f times", v.kind, n)
		}
	}
}

func BenchmarkCatalogueLookup(b *testing.B) {
	path := filepath.Join(b.TempDir(), "fp.csv")
	var sb strings.Builder
	for i := range 10000 {
		fmt.Fprintf(&sb, "ja3_hash,%032x,tool %d\n", i, i)
	}
	if err := os.WriteFile(path, []byte(sb.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	c, err := NewCatalogue(path)
	if err != nil {
		b.Fatal(err)
	}
	c.SetFeeds(Fingerprints{"ja3_hash": {testJA3: "feed"}})
	for _, bc := range []struct{ name, kind, value string }{
		{"hit-operator", "ja3_hash", fmt.Sprintf("%032x", 4242)},
		{"hit-feed", "ja3_hash", testJA3},
		{"miss", "ja4", testJA4},
		{"upper-case", "jarm", strings.ToUpper(testJARM)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c.LookupFingerprint(bc.kind, bc.value)
			}
		})
	}
}

func FuzzParseFingerprints(f *testing.F) {
	f.Add([]byte("# c\nkind,value,label\nhassh," + testHASSH + ",Go scanner\nja4," + testJA4 + ",curl, 8.5\njarm," + testJARM + ",x\n"))
	f.Add([]byte("ja3_hash," + strings.ToUpper(testJA3) + ",\"quoted, label\"\r\n"))
	f.Add([]byte("hassh," + testHASSH + ",a\nhassh," + testHASSH + ",b\n"))
	f.Add([]byte("ja4,t13d1516h2_8daaf6152771_,x\n,,\n\x00"))
	f.Fuzz(func(t *testing.T, body []byte) {
		fp, err := ParseFingerprints("fuzz.csv", strings.NewReader(string(body)))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.csv:") {
				t.Fatalf("error without file:line: %v", err)
			}
			return
		}
		for kind, m := range fp {
			for v, label := range m {
				if CheckFingerprint(kind, v) != nil || label == "" || len(label) > maxLabelLen {
					t.Fatalf("accepted %s %q → %q", kind, v, label)
				}
				if l, ok := fp.LookupFingerprint(kind, strings.ToUpper(v)); !ok || l != label {
					t.Fatalf("lookup of %s %q failed", kind, v)
				}
			}
		}
	})
}
