package prober

import (
	"maps"
	"slices"
	"testing"
	"time"
)

func TestRotate(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	fp := func(hash string, at time.Duration) Fingerprint {
		return Fingerprint{AttackerUUID: "a-1", AttackerIP: "203.0.113.9", Port: 443, ProbeType: JARMProbe, Hash: hash, At: t0.Add(at)}
	}
	seen := &FingerprintState{LastHash: "h1", LastSeen: t0, RotationCount: 0}
	for _, tc := range []struct {
		name     string
		prev     *FingerprintState
		in       Fingerprint
		outcome  RotationOutcome
		store    bool
		emit     bool
		newState FingerprintState
	}{
		{"no attacker row", nil, Fingerprint{AttackerIP: "203.0.113.9", Port: 443, ProbeType: JARMProbe, Hash: "h1", At: t0}, NoAttackerRow, false, false, FingerprintState{}},
		{"zero jarm ignored", seen, fp(ZeroJARM, time.Minute), Ignored, false, false, *seen},
		{"empty hash ignored", seen, fp("", time.Minute), Ignored, false, false, *seen},
		{"first sighting", nil, fp("h1", 0), FirstSighting, true, false, FingerprintState{LastHash: "h1", LastSeen: t0}},
		{"unchanged", seen, fp("h1", time.Hour), Unchanged, true, false, FingerprintState{LastHash: "h1", LastSeen: t0.Add(time.Hour)}},
		{"rotated", seen, fp("h2", time.Hour), Rotated, true, true, FingerprintState{LastHash: "h2", LastSeen: t0.Add(time.Hour), RotationCount: 1, LastRotationAt: t0.Add(time.Hour)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Rotate(tc.prev, tc.in)
			if r.Outcome != tc.outcome || r.Store != tc.store || r.Emit != tc.emit || r.State != tc.newState {
				t.Errorf("got %+v, want outcome %s store %v emit %v state %+v", r, tc.outcome, tc.store, tc.emit, tc.newState)
			}
			if !tc.emit && (r.Payload != nil || r.AttackerRotations != 0) {
				t.Errorf("payload %v without a rotation", r.Payload)
			}
		})
	}
}

func TestRotatePayload(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	state := (*FingerprintState)(nil)
	var last Rotation
	for i, h := range []string{"aaa", "bbb", "bbb", "ccc"} {
		last = Rotate(state, Fingerprint{AttackerUUID: "a-1", AttackerIP: "203.0.113.9", Port: 22, ProbeType: HASSHProbe, Hash: h, At: t0.Add(time.Duration(i) * time.Minute)})
		s := last.State
		state = &s
	}
	if last.Outcome != Rotated || last.AttackerRotations != 1 {
		t.Fatalf("last outcome %+v", last)
	}
	keys := slices.Sorted(maps.Keys(last.Payload))
	want := []string{"attacker_ip", "attacker_uuid", "new_hash", "old_hash", "port", "probe_type", "rotation_count", "ts"}
	if !slices.Equal(keys, want) {
		t.Errorf("payload keys %v, want %v", keys, want)
	}
	p := last.Payload
	if p["attacker_uuid"] != "a-1" || p["attacker_ip"] != "203.0.113.9" || p["port"] != 22 || p["probe_type"] != "hassh" ||
		p["old_hash"] != "bbb" || p["new_hash"] != "ccc" || p["rotation_count"] != 2 || p["ts"] != "2026-03-01T12:03:00Z" {
		t.Errorf("payload %v", p)
	}
	if state.RotationCount != 2 || !state.LastRotationAt.Equal(t0.Add(3*time.Minute)) {
		t.Errorf("state %+v", state)
	}
}

// Triples are independent: a new hash on one port is a first sighting
// there, not a rotation of another port or probe type.
func TestRotateTriplesIndependent(t *testing.T) {
	type triple struct {
		port int
		typ  ProbeType
	}
	states := map[triple]*FingerprintState{}
	record := func(port int, typ ProbeType, hash string) Rotation {
		k := triple{port, typ}
		r := Rotate(states[k], Fingerprint{AttackerUUID: "a-1", AttackerIP: "203.0.113.9", Port: port, ProbeType: typ, Hash: hash, At: time.Unix(0, 0)})
		if r.Store {
			s := r.State
			states[k] = &s
		}
		return r
	}
	for _, step := range []struct {
		port int
		typ  ProbeType
		hash string
		want RotationOutcome
	}{
		{443, JARMProbe, "j1", FirstSighting},
		{8443, JARMProbe, "j2", FirstSighting},
		{443, TCPFPProbe, "t1", FirstSighting},
		{443, JARMProbe, "j1", Unchanged},
		{8443, JARMProbe, "j3", Rotated},
		{443, TCPFPProbe, "t1", Unchanged},
	} {
		if got := record(step.port, step.typ, step.hash); got.Outcome != step.want {
			t.Errorf("%d/%s %s: %s, want %s", step.port, step.typ, step.hash, got.Outcome, step.want)
		}
	}
}
