package node

import (
	"os"
	"runtime/debug"
)

// GCPercent is the garbage collector's target (GOGC) that `decnet up` runs
// with when the operator has not set GOGC. The pipeline allocates many
// short-lived values per event (decoded fields, rows, tags); collecting at
// 200 % instead of Go's default 100 % cut the CPU per event of
// BenchmarkWholePipeline by about 8 % and raised its throughput as much,
// for a heap up to a quarter larger (docs/pipeline.md, "Throughput").
const GCPercent = 200

// TuneGC sets GCPercent unless GOGC is set in the environment, where the
// operator's choice wins (GOGC=100 trades that CPU back for memory).
func TuneGC() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(GCPercent)
	}
}
