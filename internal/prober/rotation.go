package prober

import "time"

// RotatedTopic is the bus topic (and event type) of a fingerprint rotation.
const RotatedTopic = "attacker.fingerprint_rotated"

// RotationOutcome is what recording one fingerprint found.
type RotationOutcome string

// The outcomes of Rotate, named as in the original system.
const (
	// NoAttackerRow: the probed IP has no attacker yet; nothing changes
	// and the caller retries on a later probe.
	NoAttackerRow RotationOutcome = "no_attacker_row"
	// Ignored: an empty hash, or the all-zero JARM of a port that is not
	// TLS; it is not a fingerprint and never counts as a change.
	Ignored RotationOutcome = "ignored"
	// FirstSighting: no earlier state; stored with rotation_count 0.
	FirstSighting RotationOutcome = "first_sighting"
	// Unchanged: the same hash again; only last_seen moves.
	Unchanged RotationOutcome = "unchanged"
	// Rotated: a different hash; the event is emitted.
	Rotated RotationOutcome = "rotated"
)

// FingerprintState is the stored state of one (attacker, port, probe
// type): the attacker_fingerprint_state row.
type FingerprintState struct {
	LastHash       string
	LastSeen       time.Time
	RotationCount  int       // rotations of this triple
	LastRotationAt time.Time // zero when it never rotated
}

// Fingerprint is one successful probe of an attacker's port.
type Fingerprint struct {
	AttackerUUID string // "" when the IP has no attacker row
	AttackerIP   string
	Port         int
	ProbeType    ProbeType
	Hash         string
	At           time.Time
}

// Rotation is the decision of Rotate: the state to store and, when Emit,
// the attacker.fingerprint_rotated payload to publish after it is stored.
// The attacker-level rotation_count grows by AttackerRotations and its
// last_rotation_at becomes State.LastRotationAt.
type Rotation struct {
	Outcome           RotationOutcome
	State             FingerprintState
	Store             bool // State must be written
	Emit              bool
	Payload           map[string]any
	AttackerRotations int // 1 on a rotation, else 0
}

// Rotate is the rotation detector: given the previous state of a triple
// (nil when there is none) and a new fingerprint, it returns the next
// state and whether attacker.fingerprint_rotated must be emitted. It is
// pure; the caller stores State (in one transaction with the attacker's
// counters) and only then publishes Payload.
func Rotate(prev *FingerprintState, fp Fingerprint) Rotation {
	if fp.AttackerUUID == "" {
		return Rotation{Outcome: NoAttackerRow, State: deref(prev)}
	}
	if fp.Hash == "" || (fp.ProbeType == JARMProbe && fp.Hash == ZeroJARM) {
		return Rotation{Outcome: Ignored, State: deref(prev)}
	}
	at := fp.At.UTC()
	if prev == nil {
		return Rotation{Outcome: FirstSighting, Store: true,
			State: FingerprintState{LastHash: fp.Hash, LastSeen: at}}
	}
	next := *prev
	next.LastSeen = at
	if prev.LastHash == fp.Hash {
		return Rotation{Outcome: Unchanged, State: next, Store: true}
	}
	next.LastHash = fp.Hash
	next.RotationCount++
	next.LastRotationAt = at
	return Rotation{
		Outcome: Rotated, State: next, Store: true, Emit: true, AttackerRotations: 1,
		Payload: map[string]any{
			"attacker_uuid":  fp.AttackerUUID,
			"attacker_ip":    fp.AttackerIP,
			"port":           fp.Port,
			"probe_type":     string(fp.ProbeType),
			"old_hash":       prev.LastHash,
			"new_hash":       fp.Hash,
			"rotation_count": next.RotationCount,
			"ts":             at.Format(time.RFC3339Nano),
		},
	}
}

func deref(s *FingerprintState) FingerprintState {
	if s == nil {
		return FingerprintState{}
	}
	return *s
}
