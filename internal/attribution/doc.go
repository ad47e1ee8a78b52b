// Package attribution is the attribution state machine of spec intel.md
// §4.2: for each (identity, primitive) it folds the stream of BEHAVE
// observations into a current value and one of five states — unknown,
// stable, drifting, conflicted, multi_actor — and says when the state
// changed, which is when attribution.profile.state_changed is published.
// A Tracker decides attribution.profile.multi_actor_suspected across the
// primitives of an identity.
//
// The package is pure: no store, no bus, no clock of its own. Aggregate
// is the reference (a whole series in, a result out); Apply is the same
// computation made incremental over a serialisable State, which keeps
// only the few observations the mergers look at.
package attribution
