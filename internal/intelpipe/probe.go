package intelpipe

import (
	"context"
	"maps"
	"time"

	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/prober"
)

// probeTargets hands each new source address inside the allow-list to the
// prober's scheduler (S7). Only runs when the operator gave an allow-list.
func (p *Pipeline) probeTargets(_ context.Context, e event.Event) error {
	if e.SrcIP == "" || e.Service == "prober" {
		return nil
	}
	a, first := p.targeted.add(e.SrcIP)
	if !first || !p.cfg.Probe.Allowed(a) {
		return nil
	}
	if err := p.sched.Add(prober.Target{IP: a}); err != nil {
		p.log.Warn("prober: target not scheduled", "src_ip", a, "err", err)
	}
	return nil
}

// probed stores one probe's outcome: the fingerprint state (and, on a
// change, the attacker's rotation counters) first, then
// attacker.fingerprinted and, on a rotation, attacker.fingerprint_rotated.
func (p *Pipeline) probed(ctx context.Context, r prober.Result) {
	if r.Err != nil || r.Hash == "" || (r.ProbeType == prober.JARMProbe && r.Hash == prober.ZeroJARM) {
		return
	}
	ip := r.AttackerIP.String()
	a, err := p.cfg.Store.AttackerByIP(ctx, ip)
	if err != nil {
		return // no attacker row (yet): the next probe records it
	}
	ch, err := p.cfg.Store.RecordFingerprint(ctx, a.UUID, r.Port, string(r.ProbeType), r.Hash, r.At)
	if err != nil {
		if ctx.Err() == nil {
			p.log.Warn("prober: cannot store fingerprint", "src_ip", ip, "probe", r.ProbeType, "err", err)
		}
		return
	}
	fp := maps.Clone(r.Details)
	if fp == nil {
		fp = map[string]any{}
	}
	fp["attacker_uuid"], fp["attacker_ip"], fp["port"], fp["probe_type"] = a.UUID, ip, r.Port, string(r.ProbeType)
	p.cfg.Publish(TopicFingerprinted, fp)
	if ch.Rotated {
		p.cfg.Publish(prober.RotatedTopic, map[string]any{
			"attacker_uuid": a.UUID, "attacker_ip": ip, "port": r.Port, "probe_type": string(r.ProbeType),
			"old_hash": ch.OldHash, "new_hash": r.Hash, "rotation_count": ch.RotationCount,
			"ts": r.At.UTC().Format(time.RFC3339Nano),
		})
	}
}
