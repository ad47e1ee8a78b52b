package behave

import (
	"encoding/json"
	"strings"

	"github.com/google/uuid"
)

// EnvelopeVersion is the observation envelope's schema version (the "v"
// field).
const EnvelopeVersion = 1

// ExtractorVersion is bumped whenever a primitive's computation changes,
// so that stored observations say which extractor made them.
const ExtractorVersion = 1

// Source names this extractor and its version in every observation.
const Source = "decnet-go/internal/behave@v1"

// Observation is one BEHAVE observation: the envelope of spec intel.md
// §3.2. Its JSON form is the envelope as stored and published.
type Observation struct {
	ID          string          `json:"id"` // 32 hex digits, UUIDv5 of (evidence_ref, primitive)
	V           int             `json:"v"`  // EnvelopeVersion
	TS          float64         `json:"ts"` // emission time, epoch seconds
	Primitive   string          `json:"primitive"`
	Value       json.RawMessage `json:"value"` // a JSON string (label, locale, hash) or number
	Confidence  float64         `json:"confidence"`
	Window      Window          `json:"window"`
	Source      string          `json:"source"`
	EvidenceRef string          `json:"evidence_ref"`
	IdentityRef string          `json:"identity_ref,omitempty"`
}

// Window is the span of the recording an observation was computed from,
// in epoch seconds.
type Window struct {
	StartTS float64 `json:"start_ts"`
	EndTS   float64 `json:"end_ts"`
}

// Kind says how an observation's values compare over time, and so which
// attribution merger folds them (spec intel.md §3.3 ValueKinds).
type Kind string

// Value kinds.
const (
	Categorical Kind = "categorical" // a label from a small vocabulary
	FreeString  Kind = "free_string" // an open string such as a locale
	Numeric     Kind = "numeric"     // a JSON number
	Hash        Kind = "hash"        // a fingerprint compared for equality only
)

// Primitive names. The first group are the original's (spec §3.3) with
// its value vocabularies; the second group are DECNET-Go's own: the raw
// measurements behind the labels, numeric so that the attribution
// engine's numeric merger has live input.
const (
	InputModality          = "motor.input_modality"
	PasteBurstRate         = "motor.paste_burst_rate"
	KeystrokeCadence       = "motor.keystroke_cadence"
	DigraphSimhash         = "motor.digraph_simhash"
	MotorStability         = "motor.motor_stability"
	ErrorCorrection        = "motor.error_correction"
	TabCompletion          = "motor.shell_mastery.tab_completion"
	ShortcutUsage          = "motor.shell_mastery.shortcut_usage"
	PipeChainingDepth      = "motor.shell_mastery.pipe_chaining_depth"
	InterCommandLatency    = "cognitive.inter_command_latency_class"
	CommandBranchDiversity = "cognitive.command_branch_diversity"
	ToolVocabulary         = "cognitive.tool_vocabulary"
	RetryTactic            = "cognitive.error_resilience.retry_tactic"
	SessionDuration        = "temporal.session_duration"
	LandingRitual          = "temporal.lifecycle_markers.landing_ritual"
	ExitBehavior           = "temporal.lifecycle_markers.exit_behavior"
	ShellType              = "environmental.shell_type"
	TerminalMultiplexer    = "environmental.terminal_multiplexer"
	Locale                 = "environmental.locale"
	Objective              = "operational.objective"
	CleanupBehavior        = "operational.cleanup_behavior"

	Terminal            = "environmental.terminal"            // DECNET-Go: the client's TERM
	TerminalGeometry    = "environmental.terminal_geometry"   // DECNET-Go: final COLSxROWS
	IKIMedianMS         = "motor.iki_median_ms"               // DECNET-Go
	PasteRatio          = "motor.paste_ratio"                 // DECNET-Go
	ErrorCorrectionRate = "motor.error_correction_rate"       // DECNET-Go
	CommandLatencyS     = "cognitive.inter_command_latency_s" // DECNET-Go
	SessionDurationS    = "temporal.session_duration_s"       // DECNET-Go
)

// kinds is the primitive → kind table the original took from the BEHAVE
// registry, which is not available to us.
var kinds = map[string]Kind{
	DigraphSimhash:      Hash,
	Locale:              FreeString,
	Terminal:            FreeString,
	IKIMedianMS:         Numeric,
	PasteRatio:          Numeric,
	ErrorCorrectionRate: Numeric,
	CommandLatencyS:     Numeric,
	SessionDurationS:    Numeric,
}

// KindOf is the value kind of a primitive. Every primitive not listed as
// hash, numeric or free-string is categorical, which is also what an
// unknown name gets, as in the original.
func KindOf(primitive string) Kind {
	if k, ok := kinds[primitive]; ok {
		return k
	}
	return Categorical
}

// Primitives lists every primitive Analyze can emit, in emission order.
func Primitives() []string {
	return []string{
		InputModality, PasteBurstRate, KeystrokeCadence, DigraphSimhash, MotorStability, ErrorCorrection,
		TabCompletion, ShortcutUsage, PipeChainingDepth, InterCommandLatency, CommandBranchDiversity,
		ToolVocabulary, RetryTactic, SessionDuration, LandingRitual, ExitBehavior, ShellType,
		TerminalMultiplexer, Locale, Objective, CleanupBehavior, Terminal, TerminalGeometry,
		IKIMedianMS, PasteRatio, ErrorCorrectionRate, CommandLatencyS, SessionDurationS,
	}
}

// namespace is the UUIDv5 namespace of observation ids.
var namespace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://github.com/decnet-go/decnet/behave/observation"))

// ObservationID is the deterministic id of the observation of primitive
// made from evidenceRef: 32 hex digits (a UUIDv5 without dashes), so
// re-analysing a recording gives the same ids.
func ObservationID(evidenceRef, primitive string) string {
	id := uuid.NewSHA1(namespace, []byte(evidenceRef+"\x00"+primitive))
	return strings.ReplaceAll(id.String(), "-", "")
}

// EvidenceRef is the reference of a recording, the original's
// "shard:{decky}/{service}/{shard}#{sid}", where shard is the recording's
// base name (the session_recorded stored_as without its directory).
func EvidenceRef(decky, service, storedAs, sid string) string {
	if i := strings.LastIndexByte(storedAs, '/'); i >= 0 {
		storedAs = storedAs[i+1:]
	}
	return "shard:" + decky + "/" + service + "/" + storedAs + "#" + sid
}
