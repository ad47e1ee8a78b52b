package behave

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/decnet-go/decnet/internal/honeypot/asciicast"
)

// cast renders events as an asciicast file, the fuzzer's seed format.
func cast(h asciicast.Header, evs []asciicast.Event) []byte {
	var b bytes.Buffer
	j, _ := json.Marshal(h)
	b.Write(j)
	b.WriteByte('\n')
	for _, e := range evs {
		j, _ := json.Marshal([]any{e.Time, e.Code, e.Data})
		b.Write(j)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// FuzzAnalyze feeds Analyze whatever Parse accepts: it must not panic and
// must keep the envelope's promises.
func FuzzAnalyze(f *testing.F) {
	f.Add(cast(hdr, humanRecording(1)))
	f.Add(cast(hdr, botRecording(1)))
	f.Add(cast(hdr, execRecording()))
	f.Add([]byte("{\"version\":2}\n[1e308,\"i\",\"\\u001b[\\u001b[\\u001bO\"]\n[0,\"i\",\"\\ufffd\\r\\n\\u0004\"]\n[5,\"r\",\"99999x1\"]\n"))
	f.Add([]byte("{\"version\":2,\"env\":{\"LANG\":\"xx_YY.UTF-8\",\"TERM\":\"tmux\"}}\n[0.1,\"i\",\"\u0436\u0436\u0436 LC_ALL=de_DE\\r\"]\n[0.2,\"o\",\"Permission denied\"]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, evs, _ := asciicast.Parse(bytes.NewReader(data))
		for _, o := range Analyze(h, evs, SessionMeta{EvidenceRef: "shard:d/ssh/f#s"}) {
			if !json.Valid(o.Value) || o.ID != ObservationID("shard:d/ssh/f#s", o.Primitive) {
				t.Fatalf("bad observation %+v", o)
			}
			if math.IsNaN(o.Confidence) || o.Confidence <= 0 || o.Confidence > 1 || math.IsNaN(o.TS) {
				t.Fatalf("bad confidence or ts %+v", o)
			}
			if KindOf(o.Primitive) == Categorical && !strings.HasPrefix(string(o.Value), "\"") {
				t.Fatalf("categorical %s is not a label: %s", o.Primitive, o.Value)
			}
		}
	})
}

// TestHostileRecordings: sizes and timings no recorder would write stay
// bounded and harmless.
func TestHostileRecordings(t *testing.T) {
	huge := strings.Repeat("A", 8<<20) + "\r"
	cases := []struct {
		name string
		evs  []asciicast.Event
	}{
		{"one 8 MiB paste", []asciicast.Event{{Time: 0, Code: "i", Data: huge}, {Time: 1, Code: "o", Data: huge}}},
		{"NaN and infinite times", []asciicast.Event{{Time: math.NaN(), Code: "i", Data: "a"}, {Time: math.Inf(1), Code: "i", Data: "b"}, {Time: -3, Code: "i", Data: "\r"}}},
		{"time runs backwards", func() (e []asciicast.Event) {
			for i := range 200 {
				e = append(e, asciicast.Event{Time: float64(200 - i), Code: "i", Data: string(rune('a' + i%26))})
			}
			return
		}()},
		{"invalid UTF-8", []asciicast.Event{{Code: "i", Data: "\xff\xfe\xc3"}, {Time: 0.1, Code: "i", Data: "\xc3\x28\r"}, {Code: "m", Data: "exec: \xff"}}},
		{"unterminated escape", []asciicast.Event{{Code: "i", Data: "\x1b[1;2;3;4;5;6;7;8;9;1;2;3;4;5"}}},
		{"many distinct digraphs", func() (e []asciicast.Event) {
			for i := range 100000 {
				e = append(e, asciicast.Event{Time: float64(i) * 0.1, Code: "i", Data: string(rune(0x4e00 + i%5000))})
			}
			return
		}()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obs := Analyze(hdr, tc.evs, SessionMeta{EvidenceRef: testRef})
			for _, o := range obs {
				if len(o.Value) > 128 {
					t.Errorf("%s value of %d bytes", o.Primitive, len(o.Value))
				}
			}
		})
	}
}

// BenchmarkAnalyze10Minutes: a ten-minute typed session (≈ 130 commands,
// ≈ 3,000 keystrokes with their echoes).
func BenchmarkAnalyze10Minutes(b *testing.B) {
	r := newRec(1)
	d := r.human(1)
	r.prompt()
	for r.t < 600 {
		for _, c := range humanSession {
			r.jitter(2, 4)
			r.typist(c.cmd, d, 7)
			r.reply(c.out)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		Analyze(hdr, r.evs, SessionMeta{EvidenceRef: testRef})
	}
	b.ReportMetric(float64(len(r.evs)), "events/op")
}
