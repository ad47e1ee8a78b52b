package asciicast

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// fakeClock advances by step on every reading.
type fakeClock struct {
	t    time.Time
	step time.Duration
}

func (c *fakeClock) now() time.Time { c.t = c.t.Add(c.step); return c.t }

func TestRecordingRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0), step: 250 * time.Millisecond}
	r := New(&buf, Header{Width: 120, Height: 40, Env: map[string]string{"SHELL": "/bin/bash", "TERM": "xterm-256color"}},
		Options{Now: clk.now})
	r.Output([]byte("root@host:~# "))
	r.Input([]byte("l"))
	r.Input([]byte("s\r"))
	r.Output([]byte("a\tb\"c\\\x1b[0m\r\n"))
	r.Resize(100, 30)
	r.Mark("note")

	h, evs, err := Parse(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if h.Version != 2 || h.Width != 120 || h.Height != 40 || h.Env["TERM"] != "xterm-256color" || h.Timestamp != 1_700_000_000 {
		t.Errorf("header %+v", h)
	}
	want := []Event{
		{0.25, "o", "root@host:~# "}, {0.5, "i", "l"}, {0.75, "i", "s\r"},
		{1, "o", "a\tb\"c\\\x1b[0m\r\n"}, {1.25, "r", "100x30"}, {1.5, "m", "note"},
	}
	if len(evs) != len(want) {
		t.Fatalf("events %+v", evs)
	}
	for i := range want {
		if evs[i] != want[i] {
			t.Errorf("event %d = %+v, want %+v", i, evs[i], want[i])
		}
	}
	if r.Truncated() || r.Bytes() == 0 {
		t.Errorf("truncated %v bytes %d", r.Truncated(), r.Bytes())
	}
}

func TestHeaderIsAsciinemaV2(t *testing.T) {
	var buf bytes.Buffer
	New(&buf, Header{Width: 80, Height: 24, Env: map[string]string{"SHELL": "/bin/bash", "TERM": "xterm"}}, Options{})
	var m map[string]any
	line, _, _ := strings.Cut(buf.String(), "\n")
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"version", "width", "height", "timestamp", "env"} {
		if _, ok := m[k]; !ok {
			t.Errorf("header %s lacks %q", line, k)
		}
	}
	if m["version"] != float64(2) {
		t.Errorf("version %v", m["version"])
	}
}

func TestSplitUTF8IsKeptWhole(t *testing.T) {
	var buf bytes.Buffer
	r := New(&buf, Header{}, Options{})
	s := []byte("héllo €")
	r.Output(s[:2]) // "h" and the first byte of é
	r.Output(s[2:8])
	r.Output(s[8:])
	r.Output([]byte{0xff, 'x'})
	_, evs, err := Parse(&buf)
	if err != nil {
		t.Fatal(err)
	}
	var got string
	for _, e := range evs {
		got += e.Data
	}
	if got != "héllo €\uFFFDx" {
		t.Errorf("data %q", got)
	}
}

func TestCapTruncates(t *testing.T) {
	var buf bytes.Buffer
	r := New(&buf, Header{}, Options{MaxBytes: 1024})
	for range 100 {
		r.Output(bytes.Repeat([]byte("x"), 50))
	}
	if !r.Truncated() {
		t.Fatal("not truncated")
	}
	if buf.Len() > 1024 || int64(buf.Len()) != r.Bytes() {
		t.Errorf("recording is %d bytes (Bytes %d), cap 1024", buf.Len(), r.Bytes())
	}
	_, evs, err := Parse(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if last := evs[len(evs)-1]; last.Code != Marker || last.Data != TruncatedMarker {
		t.Errorf("last event %+v", last)
	}
}

func TestTapsTimestampEachChunk(t *testing.T) {
	var rec bytes.Buffer
	clk := &fakeClock{t: time.Unix(0, 0), step: 100 * time.Millisecond}
	r := New(&rec, Header{}, Options{Now: clk.now})
	pr, pw := io.Pipe()
	in := r.Reader(pr)
	go func() {
		for _, k := range []string{"i", "d", "\r"} {
			pw.Write([]byte(k))
		}
		pw.Close()
	}()
	var out bytes.Buffer
	w := r.Writer(&out)
	b := make([]byte, 16)
	for {
		n, err := in.Read(b)
		w.Write(b[:n])
		if err != nil {
			break
		}
	}
	_, evs, err := Parse(&rec)
	if err != nil {
		t.Fatal(err)
	}
	var inputs []Event
	for _, e := range evs {
		if e.Code == Input {
			inputs = append(inputs, e)
		}
	}
	if len(inputs) != 3 || inputs[0].Data != "i" || inputs[2].Data != "\r" {
		t.Fatalf("inputs %+v", inputs)
	}
	if !(inputs[0].Time < inputs[1].Time && inputs[1].Time < inputs[2].Time) {
		t.Errorf("input times not increasing: %+v", inputs)
	}
	if out.String() != "id\r" {
		t.Errorf("passed through %q", out.String())
	}
}

func TestConcurrentUse(t *testing.T) {
	var buf syncBuffer
	r := New(&buf, Header{}, Options{})
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for range 200 {
				if i%2 == 0 {
					r.Input([]byte("k"))
				} else {
					r.Output([]byte("out\n"))
				}
			}
		})
	}
	wg.Wait()
	_, evs, err := Parse(bytes.NewReader(buf.Bytes()))
	if err != nil || len(evs) != 800 {
		t.Fatalf("%d events, %v", len(evs), err)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) Bytes() []byte { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Bytes() }

func TestCreateNeverOverwrites(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "transcripts")
	f, err := Create(dir, "a.cast", Header{Width: 80, Height: 24}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	f.Output([]byte("hi"))
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := Create(dir, "a.cast", Header{}, Options{}); err == nil {
		t.Error("second Create of the same name succeeded")
	}
	data, _ := os.ReadFile(filepath.Join(dir, "a.cast"))
	if _, evs, err := Parse(bytes.NewReader(data)); err != nil || len(evs) != 1 {
		t.Errorf("file %q: %v", data, err)
	}
	fi, _ := os.Stat(filepath.Join(dir, "a.cast"))
	if fi.Mode().Perm()&0o007 != 0 {
		t.Errorf("mode %v is world-accessible", fi.Mode())
	}
}

func TestParseRejects(t *testing.T) {
	for _, tc := range []struct{ name, in string }{
		{"empty", ""},
		{"v1", `{"version":1}` + "\n"},
		{"bad event", `{"version":2}` + "\n" + `[1, "o"]` + "\n"},
		{"negative time", `{"version":2}` + "\n" + `[-1, "o", "x"]` + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := Parse(strings.NewReader(tc.in)); err == nil {
				t.Error("no error")
			}
		})
	}
}

// FuzzRecord writes arbitrary chunks and checks the result always parses
// back to the same text, made valid UTF-8.
func FuzzRecord(f *testing.F) {
	f.Add([]byte("ls -la\r"), []byte("\x1b[01;34mdir\x1b[0m\r\n"))
	f.Add([]byte{0xe2, 0x82}, []byte{0xac, 0xff, 0xfe, '"', '\\', 0x00, 0x7f})
	f.Add([]byte("\u2028\u2029"), []byte("\xf0\x9f\x98"))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		var buf bytes.Buffer
		r := New(&buf, Header{Width: 80, Height: 24}, Options{})
		r.Input(a)
		r.Output(b)
		r.Input(b)
		r.Output(a)
		_, evs, err := Parse(&buf)
		if err != nil {
			t.Fatalf("own recording does not parse: %v\n%s", err, buf.String())
		}
		var in, out string
		for _, e := range evs {
			if !utf8.ValidString(e.Data) {
				t.Fatalf("invalid UTF-8 in %+v", e)
			}
			switch e.Code {
			case Input:
				in += e.Data
			case Output:
				out += e.Data
			}
		}
		clean := func(p []byte) string { // one U+FFFD per bad byte, as the recorder writes
			var sb strings.Builder
			for len(p) > 0 {
				r, n := utf8.DecodeRune(p)
				sb.WriteRune(r)
				p = p[n:]
			}
			return sb.String()
		}
		// A split sequence may still be pending at the end; only a prefix is promised.
		if !strings.HasPrefix(clean(append(append([]byte{}, a...), b...)), in) {
			t.Errorf("input %q from %q %q", in, a, b)
		}
		_ = out
	})
}

// FuzzParse feeds arbitrary text to the parser, which must never panic.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"version": 2, "width": 80, "height": 24, "timestamp": 1700000000, "env": {"SHELL": "/bin/bash", "TERM": "xterm"}}
[0.1, "o", "root@host:~# "]
[1.2, "i", "l"]
`))
	f.Add([]byte(`{"version":2}` + "\n[1e308, \"o\", \"\\ud800\"]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		Parse(bytes.NewReader(data))
	})
}
