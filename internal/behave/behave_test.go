package behave

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"math/bits"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/honeypot/asciicast"
)

const testRef = "shard:decky-01/ssh/2026-01-02T03-04-05Z_0190.cast#0190"

var hdr = asciicast.Header{Version: 2, Width: 120, Height: 40, Timestamp: 1767323045,
	Env: map[string]string{"SHELL": "/bin/bash", "TERM": "xterm-256color"}}

// values maps primitive → decoded value.
func values(t *testing.T, obs []Observation) map[string]any {
	t.Helper()
	m := map[string]any{}
	for _, o := range obs {
		var v any
		if err := json.Unmarshal(o.Value, &v); err != nil {
			t.Fatalf("%s: value %s: %v", o.Primitive, o.Value, err)
		}
		if _, dup := m[o.Primitive]; dup {
			t.Fatalf("%s emitted twice", o.Primitive)
		}
		m[o.Primitive] = v
	}
	return m
}

// TestSessionsDiffer is the core claim: a person typing, a bot pasting
// lines and a scripted exec are told apart by their primitives.
func TestSessionsDiffer(t *testing.T) {
	absent := struct{}{}
	cases := []struct {
		name   string
		events []asciicast.Event
		meta   SessionMeta
		want   map[string]any // a value, or absent
	}{
		{"human typing", humanRecording(1), SessionMeta{}, map[string]any{
			InputModality: "typed", PasteBurstRate: "none", KeystrokeCadence: "steady",
			ErrorCorrection: "frequent", InterCommandLatency: "llm_lightweight", ExitBehavior: "clean_exit",
			CommandBranchDiversity: "high", PipeChainingDepth: "single", Objective: "payload_drop",
			LandingRitual: "recon_first", ShellType: "posix", TerminalMultiplexer: "none",
			SessionDuration: "brief", MotorStability: "steady", Terminal: "xterm-256color",
			TerminalGeometry: "120x40", PasteRatio: 0.0, RetryTactic: "switch",
		}},
		{"bot pasting lines", botRecording(1), SessionMeta{}, map[string]any{
			InputModality: "pasted", PasteBurstRate: "habitual", KeystrokeCadence: absent,
			DigraphSimhash: absent, ErrorCorrection: absent, InterCommandLatency: "instant",
			CommandBranchDiversity: "high", Objective: "payload_drop", PasteRatio: 1.0, TabCompletion: absent,
			SessionDuration: "brief", IKIMedianMS: absent,
		}},
		{"piped into a pty-less shell", botRecording(2), SessionMeta{NoTTY: true}, map[string]any{
			InputModality: "scripted", PasteBurstRate: absent, KeystrokeCadence: absent,
		}},
		{"scripted exec", execRecording(), SessionMeta{}, map[string]any{
			InputModality: "scripted", KeystrokeCadence: absent, DigraphSimhash: absent,
			InterCommandLatency: absent, Objective: "payload_drop", LandingRitual: "payload_first",
			PipeChainingDepth: "none", ExitBehavior: absent, SessionDuration: "brief",
			TabCompletion: absent, TerminalGeometry: absent,
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.meta.EvidenceRef = testRef
			got := values(t, Analyze(hdr, tc.events, tc.meta))
			for p, w := range tc.want {
				v, ok := got[p]
				switch {
				case w == absent && ok:
					t.Errorf("%s = %v, want none", p, v)
				case w != absent && !ok:
					t.Errorf("%s missing, want %v", p, w)
				case w != absent && v != w:
					t.Errorf("%s = %v, want %v", p, v, w)
				}
			}
		})
	}
}

// TestHumanNumbers checks the raw measurements of the typist: keys
// 80–250 ms apart, some corrections, thinking between commands.
func TestHumanNumbers(t *testing.T) {
	got := values(t, Analyze(hdr, humanRecording(3), SessionMeta{EvidenceRef: testRef}))
	if v, _ := got[IKIMedianMS].(float64); v < 80 || v > 250 {
		t.Errorf("iki median %v ms, want 80–250", v)
	}
	if v, _ := got[ErrorCorrectionRate].(float64); v < 0.1 || v > 0.25 {
		t.Errorf("error correction rate %v, want one backspace per ~5 keys", v)
	}
	if v, _ := got[CommandLatencyS].(float64); v < 2 || v > 6 {
		t.Errorf("inter-command latency %v s, want 2–6", v)
	}
	if v, _ := got[DigraphSimhash].(string); !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(v) {
		t.Errorf("digraph simhash %q", v)
	}
}

// TestDigraphSimhashTracksTheTypist: the same typist on another day gives
// a hash nearer to their first one than another typist does.
func TestDigraphSimhashTracksTheTypist(t *testing.T) {
	hashOf := func(typist, seed uint64) uint64 {
		r := newRec(seed)
		d := r.human(typist)
		for _, c := range humanSession {
			r.jitter(2, 4)
			r.typist(c.cmd, d, 0)
			r.reply(c.out)
		}
		v := values(t, Analyze(hdr, r.evs, SessionMeta{EvidenceRef: testRef}))[DigraphSimhash]
		h, err := strconv.ParseUint(v.(string), 16, 64)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	a1, a2, b := hashOf(1, 10), hashOf(1, 20), hashOf(57, 10)
	same, other := bits.OnesCount64(a1^a2), bits.OnesCount64(a1^b)
	t.Logf("Hamming distance: same typist %d bits, other typist %d bits", same, other)
	if same >= other {
		t.Errorf("same typist %d bits apart, other typist %d: the hash does not follow the rhythm", same, other)
	}
}

func TestSimhashSingleToken(t *testing.T) {
	sum := md5.Sum([]byte("ab:3"))
	if got, want := simhash(map[string]int{"ab:3": 5}), hex.EncodeToString(sum[:8]); got != want {
		t.Errorf("simhash of one token %s, want its md5 prefix %s", got, want)
	}
	if got := simhash(nil); got != "0000000000000000" {
		t.Errorf("simhash of nothing %s", got)
	}
}

// TestEnvelope checks every field of the envelope, and that ids are
// deterministic: the same recording gives the same observations, another
// recording other ids.
func TestEnvelope(t *testing.T) {
	evs := humanRecording(1)
	a := Analyze(hdr, evs, SessionMeta{EvidenceRef: testRef, IdentityRef: "idn"})
	b := Analyze(hdr, evs, SessionMeta{EvidenceRef: testRef, IdentityRef: "idn"})
	aj, _ := json.Marshal(a)
	bj, _ := json.Marshal(b)
	if !bytes.Equal(aj, bj) {
		t.Fatal("two runs over one recording differ")
	}
	other := Analyze(hdr, evs, SessionMeta{EvidenceRef: testRef + "x"})
	hexID := regexp.MustCompile(`^[0-9a-f]{32}$`)
	last := evs[len(evs)-1].Time
	order := map[string]int{}
	for i, p := range Primitives() {
		order[p] = i
	}
	prev := -1
	for i, o := range a {
		if !hexID.MatchString(o.ID) || o.ID != ObservationID(testRef, o.Primitive) || o.ID == other[0].ID && i != 0 {
			t.Errorf("%s: id %q", o.Primitive, o.ID)
		}
		if i < len(other) && other[i].Primitive == o.Primitive && other[i].ID == o.ID {
			t.Errorf("%s: another recording has the same id", o.Primitive)
		}
		if o.V != EnvelopeVersion || o.Source != Source || o.EvidenceRef != testRef || o.IdentityRef != "idn" {
			t.Errorf("%s: envelope %+v", o.Primitive, o)
		}
		if o.Window.StartTS != float64(hdr.Timestamp) || o.Window.EndTS != float64(hdr.Timestamp)+last || o.TS != o.Window.EndTS {
			t.Errorf("%s: window %+v ts %v", o.Primitive, o.Window, o.TS)
		}
		if o.Confidence <= 0 || o.Confidence > 1 {
			t.Errorf("%s: confidence %v", o.Primitive, o.Confidence)
		}
		k, ok := order[o.Primitive]
		if !ok || k <= prev {
			t.Errorf("%s out of Primitives order", o.Primitive)
		}
		prev = k
	}
	var env map[string]any
	j, _ := json.Marshal(a[0])
	json.Unmarshal(j, &env)
	for _, k := range []string{"id", "v", "ts", "primitive", "value", "confidence", "window", "source", "evidence_ref", "identity_ref"} {
		if _, ok := env[k]; !ok {
			t.Errorf("envelope JSON lacks %q: %s", k, j)
		}
	}
	at := time.Unix(1767400000, 5e8)
	if o := Analyze(hdr, evs, SessionMeta{EvidenceRef: testRef, Emitted: at}); o[0].TS != 1767400000.5 {
		t.Errorf("ts %v, want the emission time", o[0].TS)
	}
}

func TestNoEvidenceRefNoObservations(t *testing.T) {
	if obs := Analyze(hdr, humanRecording(1), SessionMeta{}); obs != nil {
		t.Errorf("observations without evidence_ref: %d", len(obs))
	}
	if obs := Analyze(hdr, nil, SessionMeta{EvidenceRef: testRef}); obs != nil {
		t.Errorf("observations of an empty recording: %d", len(obs))
	}
}

// TestRecorderRoundTrip analyses a recording made by the real recorder
// and read back by Parse, keystroke by keystroke as the ssh service
// writes it.
func TestRecorderRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	clock := time.Unix(1767323045, 0)
	r := asciicast.New(&buf, asciicast.Header{Width: 80, Height: 24, Env: map[string]string{"SHELL": "/bin/bash", "TERM": "screen-256color"}},
		asciicast.Options{Now: func() time.Time { return clock }})
	step := func(d time.Duration) { clock = clock.Add(d) }
	r.Output([]byte("root@srv01:~# "))
	for i, line := range []string{"export LANG=ru_RU.UTF-8", "id", "ls -la | grep x | wc -l", "history -c"} {
		step(3 * time.Second)
		for j, k := range line + "\r" {
			step(time.Duration(90+(i*7+j*13)%80) * time.Millisecond)
			r.Input([]byte(string(k)))
		}
		r.Output([]byte("\r\nbash: x: command not found\r\nroot@srv01:~# "))
	}
	r.Input([]byte{4})
	h, evs, err := asciicast.Parse(&buf)
	if err != nil {
		t.Fatal(err)
	}
	got := values(t, Analyze(h, evs, SessionMeta{EvidenceRef: testRef}))
	want := map[string]any{
		Locale: "ru-RU", TerminalMultiplexer: "screen", CleanupBehavior: "history_wipe", PipeChainingDepth: "chained",
		InputModality: "typed", TerminalGeometry: "80x24", RetryTactic: "switch", ExitBehavior: "eof",
	}
	for p, w := range want {
		if got[p] != w {
			t.Errorf("%s = %v, want %v", p, got[p], w)
		}
	}
}

func TestLabels(t *testing.T) {
	latency := []struct {
		s    float64
		want string
	}{{0, "instant"}, {0.3, "instant"}, {1.5, "typing_speed"}, {2, "deliberate"}, {8, "llm_lightweight"}, {30, "llm_heavyweight"}, {30.1, "long"}}
	for _, tc := range latency {
		if got := latencyClass(tc.s); got != tc.want {
			t.Errorf("latencyClass(%v) = %s, want %s", tc.s, got, tc.want)
		}
	}
	locales := map[string]string{"de_DE.UTF-8": "de-DE", "C": "", "POSIX": "", "pt_BR": "pt-BR", "zh_CN.GB2312@x": "zh-CN", "en": "en", "12_34": "", "": ""}
	for in, want := range locales {
		if got := bcp47(in); got != want {
			t.Errorf("bcp47(%q) = %q, want %q", in, got, want)
		}
	}
	pipes := map[string]int{"ls": 0, "a | b": 1, "a || b": 0, "a | b | c | d | e": 4, "echo 'a|b' | c": 1}
	for in, want := range pipes {
		if got := pipeDepth(in); got != want {
			t.Errorf("pipeDepth(%q) = %d, want %d", in, got, want)
		}
	}
	keys := map[string]bool{"\x1b[A": true, "\x1b[1;5D": true, "\x1bOP": true, "\x1bb": true, "\x1b[Aab": false, "abcd": false, "\x1b": false}
	for in, want := range keys {
		if got := isKeySequence(in); got != want {
			t.Errorf("isKeySequence(%q) = %v", in, got)
		}
	}
	dialects := map[string]string{"/bin/busybox ECCHI": "busybox", "Get-ChildItem": "powershell", "ipconfig /all": "cmd", "uname -a": "posix"}
	for in, want := range dialects {
		if got := dialect(in, firstToken(in)); got != want {
			t.Errorf("dialect(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestLineEditing: the first token is read after the corrections, as the
// shell would see it.
func TestLineEditing(t *testing.T) {
	s := newSession()
	for _, r := range "wgte\x7f\x7f\x7fget x\x17\x15curl -O y\r" {
		s.char(1, r, true)
	}
	if len(s.commands) != 1 || s.commands[0].first != "curl" || s.corrections != 5 {
		t.Errorf("commands %+v corrections %d", s.commands, s.corrections)
	}
}
