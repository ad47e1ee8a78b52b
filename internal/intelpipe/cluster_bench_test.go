package intelpipe

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/store"
)

// syntheticAttackers makes n attackers as a busy sensor sees them: each
// with a HASSH and a JA3 drawn from skewed pools (a few tool defaults
// shared by thousands, a long tail of rare values), one ASN of 3000, and
// one actor in 50 operating 2–6 addresses with a fingerprint of its own.
func syntheticAttackers(n int) []store.ClusterAttacker {
	r := rand.New(rand.NewPCG(1, 2))
	zipf := rand.NewZipf(r, 1.3, 1, 20000)
	atts := make([]store.ClusterAttacker, 0, n)
	for i := 0; len(atts) < n; i++ {
		k := 1
		own := ""
		if i%50 == 0 {
			k, own = 2+r.IntN(5), fmt.Sprintf("actor%06d", i)
		}
		asn := int64(r.IntN(3000) + 1)
		for j := 0; j < k && len(atts) < n; j++ {
			a := store.ClusterAttacker{UUID: fmt.Sprintf("%08x-0000-4000-8000-%012x", len(atts), i), IP: fmt.Sprintf("10.%d.%d.%d", r.IntN(256), r.IntN(256), r.IntN(256)),
				ASN: asn, FirstSeen: time.Unix(1_700_000_000, 0), LastSeen: time.Unix(1_700_000_000+int64(i), 0),
				Fingerprints: []store.Fingerprint{{Type: "hassh", Value: fmt.Sprintf("h%d", zipf.Uint64())},
					{Type: "ja3", Value: fmt.Sprintf("j%d", zipf.Uint64())}}}
			if own != "" {
				a.Fingerprints = append(a.Fingerprints, store.Fingerprint{Type: "ja4", Value: own})
			}
			atts = append(atts, a)
		}
	}
	return atts
}

func BenchmarkGroupAttackers100k(b *testing.B) {
	atts := syntheticAttackers(100_000)
	b.ReportAllocs()
	var g grouping
	for b.Loop() {
		g = groupAttackers(atts, ClusterConfig{})
	}
	b.ReportMetric(float64(len(g.comps)), "components")
	b.ReportMetric(float64(g.common), "common")
}

// memClusterStore is a ClusterStore over a fixed snapshot whose writes
// cost nothing: it measures the clusterer, not a database.
type memClusterStore struct {
	snap store.ClusterSnapshot
	n    int
}

func (m *memClusterStore) ClusterSnapshot(context.Context) (store.ClusterSnapshot, error) {
	s := m.snap
	s.Attackers = append([]store.ClusterAttacker(nil), m.snap.Attackers...)
	return s, nil
}
func (m *memClusterStore) CommandSets(context.Context, []string) (map[string][]string, error) {
	return map[string][]string{}, nil
}
func (m *memClusterStore) CredentialSets(context.Context, []string) (map[string][]string, error) {
	return map[string][]string{}, nil
}
func (m *memClusterStore) DownloadHosts(context.Context, []string) (map[string][]string, error) {
	return map[string][]string{}, nil
}
func (m *memClusterStore) CreateClusterIdentity(_ context.Context, attackers []string, _ store.IdentityRollup) (string, []string, error) {
	m.n++
	return fmt.Sprintf("id%08d", m.n), attackers, nil
}
func (m *memClusterStore) LinkAttackersToIdentity(_ context.Context, _ string, a []string) ([]string, error) {
	return a, nil
}
func (m *memClusterStore) MergeIdentity(context.Context, string, string) error { return nil }
func (m *memClusterStore) UnmergeIdentity(context.Context, string) error       { return nil }
func (m *memClusterStore) UpdateIdentityRollup(context.Context, string, store.IdentityRollup) error {
	return nil
}
func (m *memClusterStore) CreateClusterCampaign(context.Context, store.CampaignRollup) (string, error) {
	return "c", nil
}
func (m *memClusterStore) UpdateCampaignRollup(context.Context, string, store.CampaignRollup) error {
	return nil
}
func (m *memClusterStore) MergeCampaign(context.Context, string, string) error       { return nil }
func (m *memClusterStore) SetIdentityCampaign(context.Context, string, string) error { return nil }

// BenchmarkClusterOnce100k is a whole first run over 100,000 attackers
// (grouping, roll-ups, campaigns), without database time.
func BenchmarkClusterOnce100k(b *testing.B) {
	st := &memClusterStore{snap: store.ClusterSnapshot{Attackers: syntheticAttackers(100_000)}}
	c := NewClusterer(st, func(string, any) {}, ClusterConfig{}, slog.New(slog.DiscardHandler))
	b.ReportAllocs()
	var s ClusterStats
	for b.Loop() {
		var err error
		if s, err = c.Once(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(s.Formed), "identities")
}
