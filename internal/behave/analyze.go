package behave

import (
	"encoding/json"
	"math"
	"strconv"
	"time"

	"github.com/decnet-go/decnet/internal/honeypot/asciicast"
)

// SessionMeta is what the caller knows about a recording beyond its
// content.
type SessionMeta struct {
	// EvidenceRef identifies the recording (see EvidenceRef); observation
	// ids derive from it. Required: Analyze returns nothing without it.
	EvidenceRef string
	// IdentityRef is copied into every observation when known.
	IdentityRef string
	// NoTTY is set for an ssh shell without a pty (session_recorded
	// "tty": false): its input is piped by a program, not typed.
	NoTTY bool
	// Emitted is the observations' emission time; the end of the
	// recording when zero, so that a re-run gives identical observations.
	Emitted time.Time
}

// Analyze computes the shell primitives of one recording. Primitives the
// recording holds too little to judge are left out, so the result may be
// short or empty (an exec session has no keystrokes). Observations come
// in the order of Primitives.
func Analyze(h asciicast.Header, events []asciicast.Event, meta SessionMeta) []Observation {
	if meta.EvidenceRef == "" {
		return nil
	}
	s := digest(h, events)
	if !s.timed {
		return nil
	}
	base := float64(h.Timestamp)
	if h.Timestamp < 0 || h.Timestamp > 1<<40 {
		base = 0
	}
	win := Window{StartTS: base + s.first, EndTS: base + s.last}
	ts := win.EndTS
	if !meta.Emitted.IsZero() {
		ts = float64(meta.Emitted.UnixNano()) / 1e9
	}
	var out []Observation
	emit := func(primitive string, value any, conf float64) {
		raw, err := json.Marshal(value)
		if err != nil { // a non-finite number: nothing to say
			return
		}
		out = append(out, Observation{
			ID: ObservationID(meta.EvidenceRef, primitive), V: EnvelopeVersion, TS: ts, Primitive: primitive,
			Value: raw, Confidence: conf, Window: win, Source: Source, EvidenceRef: meta.EvidenceRef,
			IdentityRef: meta.IdentityRef,
		})
	}
	s.features(meta, emit)
	return out
}

// features computes every primitive, in the order of Primitives.
func (s *session) features(meta SessionMeta, emit func(string, any, float64)) {
	ncmd := len(s.commands)
	pasteRatio := 0.0
	if s.inputs > 0 {
		pasteRatio = float64(s.pasteEvents) / float64(s.inputs)
	}
	interactive := s.inputs > 0 && !meta.NoTTY

	// motor.input_modality
	switch {
	case s.exec && s.inputs == 0:
		emit(InputModality, "scripted", 0.9)
	case s.inputs > 0 && meta.NoTTY:
		emit(InputModality, "scripted", 0.8)
	case pasteRatio >= modalityPastedRatio:
		emit(InputModality, "pasted", 0.75)
	case s.inputs > 0 && pasteRatio <= modalityTypedRatio:
		emit(InputModality, "typed", 0.75)
	case s.inputs > 0:
		emit(InputModality, "mixed", 0.70)
	}

	// motor.paste_burst_rate: paste bursts per command.
	if interactive && ncmd > 0 {
		rate := float64(s.pasteBursts) / float64(ncmd)
		emit(PasteBurstRate, bucket3(rate, pasteRateHabitual, pasteRateOccasional, "habitual", "occasional", "none"), 0.7)
	}

	// motor.keystroke_cadence
	cadenceCV := -1.0
	if interactive && s.inputs >= minCadenceInputs && len(s.burstCVs) > 0 {
		cadenceCV = median(s.burstCVs)
		meanIKI, _ := meanStdev(s.burstIATs)
		switch {
		case meanIKI < cadenceMachineMeanS && cadenceCV < cadenceMachineCV:
			emit(KeystrokeCadence, "machine", 0.85)
		case cadenceCV < cadenceSteadyCV:
			emit(KeystrokeCadence, "steady", 0.70)
		case cadenceCV < cadenceBurstyCV:
			emit(KeystrokeCadence, "bursty", 0.65)
		default:
			emit(KeystrokeCadence, "hunt_and_peck", 0.60)
		}
	}

	// motor.digraph_simhash
	if interactive && len(s.digraphs) >= digraphMinDistinct && s.digraphN >= digraphMinSamples {
		tokens := make(map[string]int, len(s.digraphs))
		for k, dts := range s.digraphs {
			tokens[k+":"+strconv.Itoa(digraphBucket(median(dts)))] += len(dts)
		}
		emit(DigraphSimhash, simhash(tokens), math.Min(0.95, 0.40+0.05*float64(len(s.digraphs))))
	}

	// motor.motor_stability
	if cadenceCV >= 0 && len(s.burstIATs) > 0 {
		switch {
		case float64(s.tremors)/float64(len(s.burstIATs)) >= tremorMinShare:
			emit(MotorStability, "tremor", 0.6)
		case cadenceCV < cadenceSteadyCV:
			emit(MotorStability, "steady", 0.6)
		default:
			emit(MotorStability, "variable", 0.6)
		}
	}

	// motor.error_correction
	correctionRate := -1.0
	if interactive && s.typed >= 20 {
		correctionRate = float64(s.corrections) / float64(s.typed)
		label := "none"
		switch {
		case correctionRate >= correctionFrequent:
			label = "frequent"
		case correctionRate >= correctionOccasional:
			label = "occasional"
		case s.corrections > 0:
			label = "rare"
		}
		emit(ErrorCorrection, label, 0.7)
	}

	// motor.shell_mastery.*: only for hands on a keyboard.
	if interactive && ncmd > 0 && s.typed >= 20 {
		tabs, shortcuts := 0, 0
		for _, c := range s.commands {
			tabs += c.tabs
			shortcuts += c.shortcuts
		}
		n := float64(ncmd)
		emit(TabCompletion, bucket3(float64(tabs)/n, masteryHabitual, masteryOccasional, "habitual", "occasional", "none"), 0.65)
		emit(ShortcutUsage, bucket3(float64(shortcuts)/n, masteryHabitual, masteryOccasional, "heavy", "some", "none"), 0.65)
	}
	if ncmd > 0 {
		depth := 0
		for _, c := range s.commands {
			depth = max(depth, c.pipes)
		}
		label := "none"
		switch {
		case depth >= 4:
			label = "deep"
		case depth >= 2:
			label = "chained"
		case depth == 1:
			label = "single"
		}
		emit(PipeChainingDepth, label, 0.6)
	}

	// cognitive.inter_command_latency_class: median of next.start − cur.end.
	latency := -1.0
	if ncmd >= 2 && !s.exec {
		iats := make([]float64, 0, ncmd-1)
		for i := 1; i < ncmd; i++ {
			iats = append(iats, math.Max(0, s.commands[i].start-s.commands[i-1].end))
		}
		latency = median(iats)
		conf := 0.8
		if ncmd < latencyMinConfident {
			conf = 0.4
		}
		emit(InterCommandLatency, latencyClass(latency), conf)
	}

	// cognitive.command_branch_diversity and tool_vocabulary
	if ncmd >= minCommandsForMix {
		distinct := map[string]struct{}{}
		for _, c := range s.commands {
			distinct[c.first] = struct{}{}
		}
		d := float64(len(distinct)) / float64(ncmd)
		emit(CommandBranchDiversity, bucket3(d, diversityHigh, diversityMedium, "high", "medium", "low"), 0.6)
		emit(ToolVocabulary, bucket3(float64(len(s.tokens)), vocabularyBroad, vocabularyMedium, "broad", "moderate", "narrow"), 0.6)
	}

	// cognitive.error_resilience.retry_tactic
	var tactic [3]int // retry_same, consult_docs, switch
	for i := 0; i+1 < ncmd; i++ {
		if !s.commands[i].errored {
			continue
		}
		next := s.commands[i+1]
		switch {
		case next.first == s.commands[i].first:
			tactic[0]++
		case next.help:
			tactic[1]++
		default:
			tactic[2]++
		}
	}
	if best, n := argmax(tactic[:]); n > 0 {
		emit(RetryTactic, []string{"retry_same", "consult_docs", "switch"}[best], 0.55)
	}

	// temporal.*
	duration := s.last - s.first
	emit(SessionDuration, durationClass(duration), 0.9)
	if ncmd > 0 {
		emit(LandingRitual, s.landing, 0.5)
	}
	if interactive || ncmd > 0 && !s.exec {
		label := "abrupt"
		switch {
		case s.selfKill:
			label = "self_kill"
		case ncmd > 0 && isExit(s.commands[ncmd-1].first):
			label = "clean_exit"
		case s.eof:
			label = "eof"
		}
		emit(ExitBehavior, label, 0.6)
	}

	// environmental.*
	if ncmd > 0 {
		label, best := "posix", 0
		for _, d := range []string{"busybox", "powershell", "cmd"} {
			if s.dialects[d] > best {
				label, best = d, s.dialects[d]
			}
		}
		conf := 0.5
		if best > 0 {
			conf = 0.8
		}
		emit(ShellType, label, conf)
	}
	if s.term != "" {
		mux := "none"
		switch {
		case hasPrefixFold(s.term, "tmux"):
			mux = "tmux"
		case hasPrefixFold(s.term, "screen"):
			mux = "screen"
		}
		emit(TerminalMultiplexer, mux, 0.6)
	}
	if loc, conf := s.localeGuess(); loc != "" {
		emit(Locale, loc, conf)
	}

	// operational.*
	if ncmd > 0 {
		if s.objective > 0 {
			emit(Objective, objectiveLabels[s.objective], 0.6)
		}
		emit(CleanupBehavior, cleanupLabels[s.cleanup], 0.6)
	}

	// DECNET-Go: the terminal and the raw measurements.
	if s.term != "" && len(s.term) <= 64 {
		emit(Terminal, s.term, 0.9)
	}
	if s.geometry != "" && !s.exec {
		emit(TerminalGeometry, s.geometry, 0.7)
	}
	if cadenceCV >= 0 {
		emit(IKIMedianMS, round3(median(s.burstIATs)*1000), 0.7)
	}
	if s.inputs > 0 {
		emit(PasteRatio, round3(pasteRatio), 0.7)
	}
	if correctionRate >= 0 {
		emit(ErrorCorrectionRate, round3(correctionRate), 0.7)
	}
	if latency >= 0 {
		emit(CommandLatencyS, round3(latency), 0.7)
	}
	emit(SessionDurationS, round3(duration), 0.9)
}

// localeGuess is the attacker's locale: one they set, else one their
// client sent, else the script of letters they typed ("und-Cyrl").
func (s *session) localeGuess() (string, float64) {
	if s.locale != "" {
		return s.locale, 0.8
	}
	tag, best := "", 0
	for _, sc := range scriptTables {
		if n := s.scripts[sc.tag]; n > best {
			tag, best = sc.tag, n
		}
	}
	if best >= 3 {
		return "und-" + tag, 0.5
	}
	return "", 0
}

func latencyClass(s float64) string {
	switch {
	case s <= latencyInstant:
		return "instant"
	case s <= latencyTypingSpeed:
		return "typing_speed"
	case s <= latencyDeliberate:
		return "deliberate"
	case s <= latencyLLMLight:
		return "llm_lightweight"
	case s <= latencyLLMHeavy:
		return "llm_heavyweight"
	}
	return "long"
}

func durationClass(s float64) string {
	switch {
	case s < durationBrief:
		return "brief"
	case s < durationShort:
		return "short"
	case s < durationMedium:
		return "medium"
	}
	return "long"
}

// bucket3 labels x: high at or above hi, mid at or above lo, else low.
func bucket3(x, hi, lo float64, high, mid, low string) string {
	switch {
	case x >= hi:
		return high
	case x >= lo:
		return mid
	}
	return low
}

// argmax is the index of the largest count (the first on ties) and that
// count.
func argmax(xs []int) (int, int) {
	best := 0
	for i, x := range xs {
		if x > xs[best] {
			best = i
		}
	}
	return best, xs[best]
}

func isExit(first string) bool { return first == "exit" || first == "logout" || first == "quit" }

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && equalFold(s[:len(prefix)], prefix)
}

func equalFold(a, b string) bool {
	for i := 0; i < len(a); i++ {
		if a[i]|0x20 != b[i]|0x20 {
			return false
		}
	}
	return true
}
