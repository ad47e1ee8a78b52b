package behave

// The numeric cut-offs of the extractor, in one place (the Go side of the
// original's _thresholds.py, spec intel.md §3.4). Values the spec gives
// are ported as is; the ones marked "DECNET-Go" are ours, for primitives
// whose original thresholds the spec does not record.
const (
	// Input classification.
	pasteMinChars    = 4    // an input chunk of ≥ 4 characters is paste-class
	pasteMergeGapS   = 0.20 // paste chunks closer than this form one burst
	thinkPauseS      = 1.5  // an inter-key gap above this ends a typing burst
	minBurstIATs     = 3    // typing bursts with fewer intervals are ignored
	minCadenceInputs = 5    // keystroke_cadence needs this many inputs

	// motor.input_modality: paste-class share of input chunks.
	modalityPastedRatio = 0.40
	modalityTypedRatio  = 0.05

	// motor.paste_burst_rate: paste bursts per command.
	pasteRateHabitual   = 0.5
	pasteRateOccasional = 0.1

	// motor.keystroke_cadence.
	cadenceMachineMeanS = 0.005
	cadenceMachineCV    = 0.05
	cadenceSteadyCV     = 0.5
	cadenceBurstyCV     = 1.5

	// motor.motor_stability.
	tremorIATS     = 0.030 // an in-burst interval shorter than this is a tremor
	tremorMinShare = 0.10

	// motor.digraph_simhash.
	digraphMaxDT       = 1.5
	digraphMinDistinct = 8
	digraphMinSamples  = 20

	// cognitive.inter_command_latency_class (upper bounds, seconds).
	latencyInstant      = 0.3
	latencyTypingSpeed  = 1.5
	latencyDeliberate   = 2.0
	latencyLLMLight     = 8.0
	latencyLLMHeavy     = 30.0
	latencyMinConfident = 5 // fewer commands lower the confidence

	// temporal.session_duration buckets (seconds).
	durationBrief  = 60
	durationShort  = 600
	durationMedium = 3600

	// DECNET-Go: motor.error_correction, corrections per typed character.
	correctionFrequent   = 0.10
	correctionOccasional = 0.02

	// DECNET-Go: motor.shell_mastery.tab_completion and shortcut_usage,
	// uses per command.
	masteryHabitual   = 0.5
	masteryOccasional = 0.1

	// DECNET-Go: cognitive.command_branch_diversity, distinct first
	// tokens per command; cognitive.tool_vocabulary, distinct first tokens.
	diversityHigh     = 0.7
	diversityMedium   = 0.4
	vocabularyBroad   = 8
	vocabularyMedium  = 3
	minCommandsForMix = 3

	// Bounds against hostile recordings.
	maxEvents     = 1 << 20  // events looked at; the rest are ignored
	maxLineRunes  = 4096     // characters kept of one command line
	maxTokenBytes = 64       // bytes kept of a command's first token
	maxCommands   = 1 << 16  // commands kept
	maxOutputScan = 64 << 10 // output bytes scanned for errors per command
	maxIATs       = 1 << 20  // intervals kept for statistics
)
