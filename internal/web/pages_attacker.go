package web

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/decnet-go/decnet/internal/store"
)

// Rows of the attacker page's intel sections; each read is cut here.
const (
	fingerprintRows = 100 // passive fingerprints, probe fingerprints
	fileRows        = 50  // artifact bounties (a message adds its attachments)
	valueChars      = 200 // a BEHAVE value or attribution value, as shown
)

// attackerIntel is what the later pipeline stages found about one
// attacker: its profile and threat intel, identity, fingerprints, the
// files it left and its BEHAVE observations with their attribution.
type attackerIntel struct {
	// Intel is nil when the address has never been enriched.
	Intel *store.AttackerIntel
	// Identity is the attribution identity the attacker is linked to; ""
	// when none yet.
	Identity     string
	Rotations    int
	LastRotation *time.Time
	Fingerprints []store.AttackerFingerprint
	// FingerprintsCut says the passive list stopped at fingerprintRows.
	FingerprintsCut bool
	Probes          []store.ProbeFingerprint
	Files           []store.CapturedFile
	Behaviour       []behaveRow
	Attribution     []attributionRow
}

// behaveRow is the newest observation of one BEHAVE primitive.
type behaveRow struct {
	Primitive  string
	Value      string // compact JSON, cut to valueChars
	Confidence float64
	Time       time.Time
	Source     string
}

// attributionRow is one primitive's attribution state of the identity.
type attributionRow struct {
	store.AttributionState
	Value           string // compact JSON, cut to valueChars
	LastObservation time.Time
}

// intelOf reads the intel sections of a's page.
func (d *Dashboard) intelOf(ctx context.Context, a store.Attacker) (attackerIntel, error) {
	var v attackerIntel
	in, err := d.st.AttackerIntel(ctx, a.UUID)
	switch {
	case err == nil:
		v.Intel = &in
	case !errors.Is(err, store.ErrNotFound):
		return v, err
	}
	if v.Identity, err = d.st.AttackerIdentity(ctx, a.UUID); err != nil {
		return v, err
	}
	if v.Rotations, v.LastRotation, err = d.st.AttackerRotation(ctx, a.UUID); err != nil {
		return v, err
	}
	if v.Fingerprints, err = d.st.AttackerFingerprintsUpTo(ctx, a.IP, fingerprintRows+1); err != nil {
		return v, err
	}
	if len(v.Fingerprints) > fingerprintRows {
		v.Fingerprints, v.FingerprintsCut = v.Fingerprints[:fingerprintRows], true
	}
	if v.Probes, err = d.st.AttackerProbeFingerprints(ctx, a.UUID, fingerprintRows); err != nil {
		return v, err
	}
	if v.Files, err = d.st.AttackerCapturedFiles(ctx, a.IP, fileRows); err != nil {
		return v, err
	}
	latest, err := d.st.LatestObservationPerPrimitive(ctx, a.UUID)
	if err != nil {
		return v, err
	}
	for p, o := range latest {
		v.Behaviour = append(v.Behaviour, behaveRow{Primitive: p, Value: compactJSON(o.Value),
			Confidence: o.Confidence, Time: epochTime(o.TS), Source: o.Source})
	}
	slices.SortFunc(v.Behaviour, func(x, y behaveRow) int { return strings.Compare(x.Primitive, y.Primitive) })
	if v.Identity != "" {
		states, err := d.st.AttributionStates(ctx, v.Identity)
		if err != nil {
			return v, err
		}
		for _, s := range states {
			v.Attribution = append(v.Attribution, attributionRow{AttributionState: s,
				Value: compactJSON(s.CurrentValue), LastObservation: epochTime(s.LastObservationTS)})
		}
	}
	return v, nil
}

// compactJSON is a stored JSON value on one line, cut to valueChars.
func compactJSON(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return truncate(valueChars, s) // a string reads better unquoted
	}
	var b []byte
	if c, err := json.Marshal(json.RawMessage(raw)); err == nil {
		b = c
	} else {
		b = raw
	}
	return truncate(valueChars, string(b))
}

// epochTime is float epoch seconds as a time in UTC.
func epochTime(ts float64) time.Time {
	sec, frac := math.Modf(ts)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC()
}
