package intelpipe

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/decnet-go/decnet/internal/store"
)

// The identity clusterer (spec intel.md §4.1, docs/identities.md) groups
// attacker rows — one per source address — into identities, the actors
// behind them, and identities into campaigns. It is a periodic batch job
// over a snapshot of the store: grouping is done in memory, indexed by
// fingerprint value, so its cost grows with the number of fingerprints,
// not with the number of attacker pairs.

// Topics the clusterer publishes on core NATS, after the write.
const (
	TopicIdentityFormed           = "identity.formed"
	TopicIdentityLinked           = "identity.observation.linked"
	TopicIdentityMerged           = "identity.merged"
	TopicIdentityUnmerged         = "identity.unmerged"
	TopicIdentityCampaignAssigned = "identity.campaign.assigned"
	TopicCampaignFormed           = "campaign.formed"
	TopicCampaignIdentityAssigned = "campaign.identity.assigned"
	TopicCampaignMerged           = "campaign.merged"
)

// Evidence weights of an edge between two attackers (spec intel.md §4.1).
// An edge exists when the weight reaches EdgeThreshold.
const (
	WeightHigh    = 1.0  // an exact match of a rare strong fingerprint
	WeightMedium  = 0.6  // × Jaccard of the command sets
	WeightLow     = 0.2  // × Jaccard of the credential sets
	WeightVeryLow = 0.05 // same autonomous system
	EdgeThreshold = 1.0
	maxWeight     = WeightHigh + WeightMedium + WeightLow + WeightVeryLow
)

// linkTypes are the fingerprint types that can link two attackers, and
// the identity roll-up column each fills ("" for none). Client-side only:
// a server fingerprint (HASSH-server, JA3S) of ours is the same for every
// attacker. Client versions and user agents are claims anyone copies, and
// the TCP/IP stack fingerprint names an OS, not an actor.
var linkTypes = map[string]string{
	"hassh":                 "hassh",
	"ja3":                   "ja3",
	"ja4":                   "ja4",
	"ja4h":                  "ja4h",
	"ja4_quic":              "ja4_quic",
	"http_header_order":     "",
	"probe:jarm":            "",
	"probe:hassh":           "",
	"probe:tls_certificate": "tls_cert",
}

// ClusterConfig tunes the clusterer; zero fields take the defaults.
type ClusterConfig struct {
	// Every is the period of a run (default 60 s). Wake runs one sooner.
	Every time.Duration
	// MaxNetworks: a fingerprint value shown from more distinct networks
	// (autonomous systems; the /16 or /32 prefix for an address without an
	// ASN) is a tool's default, not an actor's (default 3).
	MaxNetworks int
	// MaxShare and MinCommon: a value shown by at least MinCommon attackers
	// and more than MaxShare of the attackers that showed any fingerprint
	// of its type is common (defaults 0.02 and 10).
	MaxShare  float64
	MinCommon int
	// MaxGroup: a value shown by more attackers is common whatever the
	// networks (default 256).
	MaxGroup int
	// Ignore lists "type:value" fingerprints never used to link.
	Ignore []string
	// MinCredentials is the size a credential set needs to link two
	// identities into a campaign (default 3).
	MinCredentials int
	// MaxHostShare: a download host used by more than this share of the
	// identities that downloaded anything (once at least MinCommon did) is
	// public infrastructure, not a campaign's (default 0.2).
	MaxHostShare float64
}

func (c ClusterConfig) withDefaults() ClusterConfig {
	if c.Every <= 0 {
		c.Every = time.Minute
	}
	if c.MaxNetworks <= 0 {
		c.MaxNetworks = 3
	}
	if c.MaxShare <= 0 {
		c.MaxShare = 0.02
	}
	if c.MinCommon <= 0 {
		c.MinCommon = 10
	}
	if c.MaxGroup <= 0 {
		c.MaxGroup = 256
	}
	if c.MinCredentials <= 0 {
		c.MinCredentials = 3
	}
	if c.MaxHostShare <= 0 {
		c.MaxHostShare = 0.2
	}
	return c
}

// ClusterStore is what the clusterer reads and writes; *store.Store
// implements it.
type ClusterStore interface {
	ClusterSnapshot(ctx context.Context) (store.ClusterSnapshot, error)
	CommandSets(ctx context.Context, ips []string) (map[string][]string, error)
	CredentialSets(ctx context.Context, ips []string) (map[string][]string, error)
	DownloadHosts(ctx context.Context, ips []string) (map[string][]string, error)
	CreateClusterIdentity(ctx context.Context, attackers []string, r store.IdentityRollup) (string, []string, error)
	LinkAttackersToIdentity(ctx context.Context, identity string, attackers []string) ([]string, error)
	MergeIdentity(ctx context.Context, loser, winner string) error
	UnmergeIdentity(ctx context.Context, id string) error
	UpdateIdentityRollup(ctx context.Context, id string, r store.IdentityRollup) error
	CreateClusterCampaign(ctx context.Context, r store.CampaignRollup) (string, error)
	UpdateCampaignRollup(ctx context.Context, id string, r store.CampaignRollup) error
	MergeCampaign(ctx context.Context, loser, winner string) error
	SetIdentityCampaign(ctx context.Context, identity, campaign string) error
}

// Clusterer runs identity and campaign clustering.
type Clusterer struct {
	st   ClusterStore
	pub  func(subject string, payload any)
	cfg  ClusterConfig
	log  *slog.Logger
	mu   sync.Mutex // one run at a time
	wake chan struct{}
}

// NewClusterer builds a clusterer over st that publishes with publish.
func NewClusterer(st ClusterStore, publish func(subject string, payload any), cfg ClusterConfig, log *slog.Logger) *Clusterer {
	if log == nil {
		log = slog.Default()
	}
	return &Clusterer{st: st, pub: publish, cfg: cfg.withDefaults(), log: log, wake: make(chan struct{}, 1)}
}

// Wake asks for a run soon (new fingerprints, a new ASN). It never blocks;
// a nil Clusterer ignores it.
func (c *Clusterer) Wake() {
	if c == nil {
		return
	}
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// minWakeGap is the shortest time between two runs a Wake can cause.
const minWakeGap = 5 * time.Second

// Run clusters at once, then every cfg.Every and on Wake, until ctx ends.
func (c *Clusterer) Run(ctx context.Context) {
	t := time.NewTicker(c.cfg.Every)
	defer t.Stop()
	c.Wake()
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-c.wake:
			if d := minWakeGap - time.Since(last); d > 0 && !sleep(ctx, d) {
				return
			}
		}
		last = time.Now()
		st, err := c.Once(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			c.log.Warn("cluster: run failed", "err", err)
		case err == nil && st.changed():
			c.log.Info("cluster: identities updated", "attackers", st.Attackers, "formed", st.Formed, "linked", st.Linked,
				"merged", st.Merged, "unmerged", st.Unmerged, "campaigns_formed", st.CampaignsFormed, "took", time.Since(last))
		}
	}
}

// ClusterStats counts what one run did.
type ClusterStats struct {
	Attackers          int // attackers read
	Components         int // groups of two or more linked attackers
	CommonFingerprints int // shared values not used because too common
	Formed             int // identities created
	Linked             int // attackers linked to an existing identity
	Merged             int // identities merged into another
	Unmerged           int // merges undone
	Rollups            int // identity roll-ups rewritten
	CampaignsFormed    int
	CampaignsAssigned  int // identities put in a campaign
	CampaignsMerged    int
	CampaignRollups    int
}

func (s ClusterStats) changed() bool {
	return s.Formed+s.Linked+s.Merged+s.Unmerged+s.CampaignsFormed+s.CampaignsAssigned+s.CampaignsMerged > 0
}

// Once runs the clusterer once. A run over unchanged data writes nothing
// and publishes nothing.
func (c *Clusterer) Once(ctx context.Context) (ClusterStats, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var st ClusterStats
	snap, err := c.st.ClusterSnapshot(ctx)
	if err != nil {
		return st, err
	}
	st.Attackers = len(snap.Attackers)
	// Byte order, whatever the database's collation: edges and winners
	// must not depend on the engine.
	slices.SortFunc(snap.Attackers, func(a, b store.ClusterAttacker) int { return strings.Compare(a.UUID, b.UUID) })
	g := groupAttackers(snap.Attackers, c.cfg)
	st.CommonFingerprints = g.common
	r := &clusterRun{c: c, snap: snap, g: g, stats: &st, ids: map[string]*store.ClusterIdentity{}}
	for i := range snap.Identities {
		r.ids[snap.Identities[i].UUID] = &snap.Identities[i]
	}
	if err := r.identities(ctx); err != nil {
		return st, err
	}
	if err := r.campaigns(ctx); err != nil {
		return st, err
	}
	return st, nil
}

// ---- grouping (pure) ----

// edge is a union made by a shared fingerprint: b joined a's group.
type edge struct{ a, b int32 }

// grouping is the outcome of linking attackers by strong fingerprints.
type grouping struct {
	uf     unionFind
	edges  []edge
	common int
	comps  [][]int32 // components of two or more attackers, members ascending
}

type fpKey struct{ typ, val string }

// groupAttackers links attackers that share a strong fingerprint value
// that is not common, and lists the components. Attackers must be sorted
// by uuid (the snapshot is) for the outcome to be deterministic.
func groupAttackers(atts []store.ClusterAttacker, cfg ClusterConfig) grouping {
	cfg = cfg.withDefaults()
	ignore := make(map[fpKey]bool, len(cfg.Ignore))
	for _, s := range cfg.Ignore {
		if i := strings.LastIndexByte(s, ':'); i > 0 {
			ignore[fpKey{strings.ToLower(s[:i]), strings.ToLower(s[i+1:])}] = true
		}
	}
	nets := make([]int32, len(atts))
	netIDs := map[string]int32{}
	groups := map[fpKey][]int32{}
	population := map[string]int{}
	for i, a := range atts {
		k := networkOf(a)
		id, ok := netIDs[k]
		if !ok {
			id = int32(len(netIDs))
			netIDs[k] = id
		}
		nets[i] = id
		var seenTypes [8]string // few types per attacker: a small linear set
		nt := 0
		for _, f := range a.Fingerprints {
			typ := strings.ToLower(f.Type)
			if _, ok := linkTypes[typ]; !ok || f.Value == "" {
				continue
			}
			key := fpKey{typ, strings.ToLower(strings.TrimSpace(f.Value))}
			m := groups[key]
			if len(m) > 0 && m[len(m)-1] == int32(i) {
				continue // the same value twice (two sources)
			}
			groups[key] = append(m, int32(i))
			if !slices.Contains(seenTypes[:nt], typ) {
				population[typ]++
				if nt < len(seenTypes) {
					seenTypes[nt] = typ
					nt++
				}
			}
		}
	}
	keys := make([]fpKey, 0, len(groups))
	for k, m := range groups {
		if len(m) >= 2 {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b fpKey) int {
		if c := strings.Compare(a.typ, b.typ); c != 0 {
			return c
		}
		return strings.Compare(a.val, b.val)
	})
	g := grouping{uf: newUnionFind(len(atts))}
	seenNets := make([]int32, 0, cfg.MaxNetworks+1)
	for _, k := range keys {
		m := groups[k]
		n := len(m)
		if ignore[k] || n > cfg.MaxGroup || (n >= cfg.MinCommon && float64(n) > cfg.MaxShare*float64(population[k.typ])) ||
			tooManyNetworks(m, nets, cfg.MaxNetworks, seenNets[:0]) {
			g.common++
			continue
		}
		for _, b := range m[1:] {
			if g.uf.union(m[0], b) {
				g.edges = append(g.edges, edge{m[0], b})
			}
		}
	}
	byRoot := map[int32]int{}
	for i := range atts {
		r := g.uf.find(int32(i))
		if g.uf.size[r] < 2 {
			continue
		}
		k, ok := byRoot[r]
		if !ok {
			k = len(g.comps)
			byRoot[r] = k
			g.comps = append(g.comps, nil)
		}
		g.comps[k] = append(g.comps[k], int32(i))
	}
	slices.SortFunc(g.comps, func(a, b []int32) int { return int(a[0] - b[0]) })
	return g
}

// tooManyNetworks reports whether members come from more than limit networks.
func tooManyNetworks(members []int32, nets []int32, limit int, seen []int32) bool {
	for _, i := range members {
		if !slices.Contains(seen, nets[i]) {
			if len(seen) == limit {
				return true
			}
			seen = append(seen, nets[i])
		}
	}
	return false
}

// networkOf names the network an attacker comes from: its autonomous
// system when enriched, else its /16 (IPv4) or /32 (IPv6) prefix.
func networkOf(a store.ClusterAttacker) string {
	if a.ASN != 0 {
		return "AS" + strconv.FormatInt(a.ASN, 10)
	}
	ip, err := netip.ParseAddr(a.IP)
	if err != nil {
		return "ip:" + a.IP
	}
	ip = ip.Unmap()
	bits := 16
	if ip.Is6() {
		bits = 32
	}
	p, _ := ip.Prefix(bits)
	return p.String()
}

// unionFind is a disjoint-set forest with path halving and union by size.
type unionFind struct{ parent, size []int32 }

func newUnionFind(n int) unionFind {
	u := unionFind{parent: make([]int32, n), size: make([]int32, n)}
	for i := range u.parent {
		u.parent[i], u.size[i] = int32(i), 1
	}
	return u
}

func (u unionFind) find(x int32) int32 {
	for u.parent[x] != x {
		u.parent[x] = u.parent[u.parent[x]]
		x = u.parent[x]
	}
	return x
}

// union joins the sets of a and b and reports whether they were apart.
func (u unionFind) union(a, b int32) bool {
	ra, rb := u.find(a), u.find(b)
	if ra == rb {
		return false
	}
	if u.size[ra] < u.size[rb] {
		ra, rb = rb, ra
	}
	u.parent[rb] = ra
	u.size[ra] += u.size[rb]
	return true
}

// edgeWeight scores an edge made by a strong fingerprint (high = 1) with
// the weaker evidence of the pair.
func edgeWeight(a, b store.ClusterAttacker, cmds, creds map[string][]string) float64 {
	w := WeightHigh + WeightMedium*jaccard(cmds[a.IP], cmds[b.IP]) + WeightLow*jaccard(creds[a.IP], creds[b.IP])
	if a.ASN != 0 && a.ASN == b.ASN {
		w += WeightVeryLow
	}
	return w
}

// jaccard is |a∩b| / |a∪b| of two sorted, deduplicated lists (0 when both
// are empty).
func jaccard(a, b []string) float64 {
	if len(a) == 0 && len(b) == 0 {
		return 0
	}
	inter, i, j := 0, 0, 0
	for i < len(a) && j < len(b) {
		switch c := strings.Compare(a[i], b[j]); {
		case c == 0:
			inter++
			i++
			j++
		case c < 0:
			i++
		default:
			j++
		}
	}
	return float64(inter) / float64(len(a)+len(b)-inter)
}

// ---- applying ----

// clusterRun is the state of one run.
type clusterRun struct {
	c     *Clusterer
	snap  store.ClusterSnapshot
	g     grouping
	stats *ClusterStats
	ids   map[string]*store.ClusterIdentity
	// confidence of each component, by its first member
	conf map[int32]float64
}

// root follows an identity's merges to the one that absorbed it.
func (r *clusterRun) root(id string) string {
	for range 16 {
		i := r.ids[id]
		if i == nil || i.MergedInto == "" || i.MergedInto == id {
			return id
		}
		id = i.MergedInto
	}
	return id
}

func (r *clusterRun) identities(ctx context.Context) error {
	atts := r.snap.Attackers
	r.stats.Components = len(r.g.comps)
	if err := r.confidences(ctx); err != nil {
		return err
	}
	// Pass 1: every component ends under one identity.
	for _, comp := range r.g.comps {
		var roots, free []string
		for _, i := range comp {
			a := &atts[i]
			if a.IdentityID == "" || r.ids[a.IdentityID] == nil {
				free = append(free, a.UUID)
				continue
			}
			if rt := r.root(a.IdentityID); !slices.Contains(roots, rt) {
				roots = append(roots, rt)
			}
		}
		slices.Sort(roots)
		if len(roots) == 0 {
			rollup := r.rollup(comp, r.conf[comp[0]])
			id, linked, err := r.c.st.CreateClusterIdentity(ctx, free, rollup)
			if err != nil {
				return err
			}
			if id == "" {
				continue // every member gained an identity meanwhile: the next run merges
			}
			r.ids[id] = &store.ClusterIdentity{UUID: id, Rollup: rollup}
			r.setIdentity(comp, linked, id)
			r.stats.Formed++
			r.c.pub(TopicIdentityFormed, map[string]any{"identity_uuid": id, "observation_uuids": linked})
			continue
		}
		winner := roots[0]
		for _, loser := range roots[1:] {
			if err := r.c.st.MergeIdentity(ctx, loser, winner); err != nil {
				return err
			}
			r.ids[loser].MergedInto = winner
			r.stats.Merged++
			r.c.pub(TopicIdentityMerged, map[string]any{"winner_uuid": winner, "loser_uuid": loser, "identity_uuid": winner})
		}
		if len(free) > 0 {
			linked, err := r.c.st.LinkAttackersToIdentity(ctx, winner, free)
			if err != nil {
				return err
			}
			r.setIdentity(comp, linked, winner)
			for _, a := range linked {
				r.stats.Linked++
				r.c.pub(TopicIdentityLinked, map[string]any{"identity_uuid": winner, "observation_uuid": a})
			}
		}
	}
	// Pass 2: a merged identity whose attackers no longer share a
	// component with another identity of its family stands alone again.
	together := map[string]bool{}
	for _, comp := range r.g.comps {
		var direct []string
		for _, i := range comp {
			if id := atts[i].IdentityID; id != "" && !slices.Contains(direct, id) {
				direct = append(direct, id)
			}
		}
		if len(direct) >= 2 {
			for _, id := range direct {
				together[id] = true
			}
		}
	}
	hasAttackers := map[string]bool{}
	for _, a := range atts {
		hasAttackers[a.IdentityID] = true
	}
	for _, i := range r.snap.Identities {
		id := r.ids[i.UUID]
		if id.MergedInto == "" || together[id.UUID] || !hasAttackers[id.UUID] {
			continue
		}
		former := r.root(id.UUID)
		if err := r.c.st.UnmergeIdentity(ctx, id.UUID); err != nil {
			return err
		}
		id.MergedInto = ""
		r.stats.Unmerged++
		r.c.pub(TopicIdentityUnmerged, map[string]any{"resurrected_uuid": id.UUID, "former_winner_uuid": former, "identity_uuid": id.UUID})
	}
	// Roll-ups of every identity that stands on its own.
	families := r.families()
	compConf := map[string]float64{}
	for _, comp := range r.g.comps {
		rt := r.root(atts[comp[0]].IdentityID)
		compConf[rt] = max(compConf[rt], r.conf[comp[0]])
	}
	for _, rt := range sortedKeys(families) {
		id := r.ids[rt]
		conf, ok := compConf[rt]
		var cp *float64
		if ok {
			cp = &conf
		} else {
			cp = id.Rollup.Confidence
		}
		next := r.rollupOf(families[rt], cp)
		if next.Equal(id.Rollup) {
			continue
		}
		if err := r.c.st.UpdateIdentityRollup(ctx, rt, next); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		id.Rollup = next
		r.stats.Rollups++
	}
	return nil
}

// setIdentity records in the snapshot that linked members now have id.
func (r *clusterRun) setIdentity(comp []int32, linked []string, id string) {
	for _, i := range comp {
		if slices.Contains(linked, r.snap.Attackers[i].UUID) {
			r.snap.Attackers[i].IdentityID = id
		}
	}
}

// families lists the attackers of each identity that stands on its own
// (following merges), by identity.
func (r *clusterRun) families() map[string][]int32 {
	out := map[string][]int32{}
	for i, a := range r.snap.Attackers {
		if a.IdentityID == "" || r.ids[a.IdentityID] == nil {
			continue
		}
		rt := r.root(a.IdentityID)
		out[rt] = append(out[rt], int32(i))
	}
	return out
}

// confidences scores each component: the mean weight of the edges that
// built it, over the highest weight an edge can have. The weaker evidence
// is read for the components' members only.
func (r *clusterRun) confidences(ctx context.Context) error {
	r.conf = map[int32]float64{}
	if len(r.g.edges) == 0 {
		return nil
	}
	atts := r.snap.Attackers
	var ips []string
	for _, comp := range r.g.comps {
		for _, i := range comp {
			ips = append(ips, atts[i].IP)
		}
	}
	cmds, err := r.c.st.CommandSets(ctx, ips)
	if err != nil {
		return err
	}
	creds, err := r.c.st.CredentialSets(ctx, ips)
	if err != nil {
		return err
	}
	sum, n := map[int32]float64{}, map[int32]int{}
	for _, e := range r.g.edges {
		rt := r.g.uf.find(e.a)
		sum[rt] += edgeWeight(atts[e.a], atts[e.b], cmds, creds)
		n[rt]++
	}
	for _, comp := range r.g.comps {
		rt := r.g.uf.find(comp[0])
		r.conf[comp[0]] = math.Round(sum[rt]/float64(n[rt])/maxWeight*1000) / 1000
	}
	return nil
}

func (r *clusterRun) rollup(members []int32, conf float64) store.IdentityRollup {
	return r.rollupOf(members, &conf)
}

// rollupOf derives an identity's roll-up from its attackers.
func (r *clusterRun) rollupOf(members []int32, conf *float64) store.IdentityRollup {
	out := store.IdentityRollup{ObservationCount: len(members), Confidence: conf}
	slots := map[string]*[]string{"ja3": &out.JA3Hashes, "hassh": &out.HASSHHashes, "ja4": &out.JA4Hashes,
		"ja4h": &out.JA4HHashes, "ja4_quic": &out.JA4QUICHashes, "tls_cert": &out.TLSCertSHA256}
	for _, i := range members {
		a := r.snap.Attackers[i]
		if out.FirstSeenAt.IsZero() || a.FirstSeen.Before(out.FirstSeenAt) {
			out.FirstSeenAt = a.FirstSeen
		}
		if a.LastSeen.After(out.LastSeenAt) {
			out.LastSeenAt = a.LastSeen
		}
		for _, f := range a.Fingerprints {
			typ := strings.ToLower(f.Type)
			if p := slots[linkTypes[typ]]; p != nil && f.Value != "" {
				*p = append(*p, strings.ToLower(strings.TrimSpace(f.Value)))
			}
		}
	}
	for _, p := range slots {
		*p = sortedSet(*p)
	}
	return out
}

// sortedSet sorts and deduplicates l; never nil.
func sortedSet(l []string) []string {
	if len(l) == 0 {
		return []string{}
	}
	slices.Sort(l)
	return slices.Compact(l)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// ---- campaigns ----

// publicHosts are download hosts any actor uses: sharing one says nothing.
var publicHosts = map[string]bool{
	"github.com": true, "raw.githubusercontent.com": true, "objects.githubusercontent.com": true,
	"gist.githubusercontent.com": true, "gitlab.com": true, "bitbucket.org": true, "pastebin.com": true,
	"dl.google.com": true, "drive.google.com": true, "www.dropbox.com": true, "dl.dropboxusercontent.com": true,
	"pypi.org": true, "files.pythonhosted.org": true, "registry.npmjs.org": true, "deb.debian.org": true,
	"archive.ubuntu.com": true, "security.ubuntu.com": true, "dl-cdn.alpinelinux.org": true,
	"localhost": true,
}

// usefulHost reports whether a host can tie identities together: not a
// public code or package host, not a private or loopback address.
func usefulHost(h string) bool {
	if publicHosts[h] {
		return false
	}
	if ip, err := netip.ParseAddr(strings.Trim(h, "[]")); err == nil {
		return public(ip.Unmap())
	}
	return true
}

// campaigns groups the identities that stand on their own by shared
// infrastructure: a download (C2, dropper) host, or the same credential
// list.
func (r *clusterRun) campaigns(ctx context.Context) error {
	families := r.families()
	roots := sortedKeys(families)
	if len(roots) < 2 {
		return nil
	}
	var ips []string
	for _, rt := range roots {
		for _, i := range families[rt] {
			ips = append(ips, r.snap.Attackers[i].IP)
		}
	}
	hostsByIP, err := r.c.st.DownloadHosts(ctx, ips)
	if err != nil {
		return err
	}
	credsByIP, err := r.c.st.CredentialSets(ctx, ips)
	if err != nil {
		return err
	}
	cfg := r.c.cfg
	hosts := make([][]string, len(roots))
	byHost := map[string][]int32{}
	byCreds := map[string][]int32{}
	withHosts := 0
	for k, rt := range roots {
		var hs, cs []string
		for _, i := range families[rt] {
			ip := r.snap.Attackers[i].IP
			for _, h := range hostsByIP[ip] {
				if usefulHost(h) {
					hs = append(hs, h)
				}
			}
			cs = append(cs, credsByIP[ip]...)
		}
		hosts[k] = sortedSet(hs)
		for _, h := range hosts[k] {
			byHost[h] = append(byHost[h], int32(k))
		}
		if len(hosts[k]) > 0 {
			withHosts++
		}
		if cs = sortedSet(cs); len(cs) >= cfg.MinCredentials {
			sum := sha256.Sum256([]byte(strings.Join(cs, "\n")))
			key := hex.EncodeToString(sum[:])
			byCreds[key] = append(byCreds[key], int32(k))
		}
	}
	uf := newUnionFind(len(roots))
	common := map[string]bool{}
	for _, h := range sortedKeys(byHost) {
		m := byHost[h]
		if len(m) >= cfg.MinCommon && float64(len(m)) > cfg.MaxHostShare*float64(withHosts) {
			common[h] = true
			continue
		}
		for _, b := range m[1:] {
			uf.union(m[0], b)
		}
	}
	for _, key := range sortedKeys(byCreds) {
		m := byCreds[key]
		for _, b := range m[1:] {
			uf.union(m[0], b)
		}
	}
	comps := map[int32][]int32{}
	for k := range roots {
		rt := uf.find(int32(k))
		comps[rt] = append(comps[rt], int32(k))
	}
	camps := map[string]*store.ClusterCampaign{}
	for i := range r.snap.Campaigns {
		camps[r.snap.Campaigns[i].UUID] = &r.snap.Campaigns[i]
	}
	campRoot := func(id string) string {
		for range 16 {
			c := camps[id]
			if c == nil || c.MergedInto == "" || c.MergedInto == id {
				return id
			}
			id = c.MergedInto
		}
		return id
	}
	var order [][]int32
	for _, m := range comps {
		if len(m) >= 2 {
			order = append(order, m)
		}
	}
	slices.SortFunc(order, func(a, b []int32) int { return int(a[0] - b[0]) })
	members := map[string][]int32{} // campaign → identities (indexes into roots)
	for _, m := range order {
		var existing []string
		for _, k := range m {
			if cid := r.ids[roots[k]].CampaignID; cid != "" && camps[cid] != nil {
				if rt := campRoot(cid); !slices.Contains(existing, rt) {
					existing = append(existing, rt)
				}
			}
		}
		slices.Sort(existing)
		var winner string
		if len(existing) == 0 {
			rollup := r.campaignRollup(m, roots, families, hosts, common)
			id, err := r.c.st.CreateClusterCampaign(ctx, rollup)
			if err != nil {
				return err
			}
			camps[id] = &store.ClusterCampaign{UUID: id, Rollup: rollup}
			winner = id
			ids := make([]string, len(m))
			for j, k := range m {
				ids[j] = roots[k]
			}
			r.stats.CampaignsFormed++
			r.c.pub(TopicCampaignFormed, map[string]any{"campaign_uuid": id, "identity_uuids": ids})
		} else {
			winner = existing[0]
			for _, loser := range existing[1:] {
				if err := r.c.st.MergeCampaign(ctx, loser, winner); err != nil {
					return err
				}
				camps[loser].MergedInto = winner
				r.stats.CampaignsMerged++
				r.c.pub(TopicCampaignMerged, map[string]any{"winner_uuid": winner, "loser_uuid": loser, "campaign_uuid": winner})
			}
		}
		for _, k := range m {
			id := r.ids[roots[k]]
			if id.CampaignID != "" && camps[id.CampaignID] != nil {
				continue // already in the campaign, or in one merged into it
			}
			if err := r.c.st.SetIdentityCampaign(ctx, id.UUID, winner); err != nil {
				return err
			}
			id.CampaignID = winner
			r.stats.CampaignsAssigned++
			p := map[string]any{"identity_uuid": id.UUID, "campaign_uuid": winner}
			r.c.pub(TopicIdentityCampaignAssigned, p)
			r.c.pub(TopicCampaignIdentityAssigned, p)
		}
	}
	// Roll-ups of the campaigns that stand on their own, from every
	// identity in them (a merged campaign's identities count for the winner).
	for k, rt := range roots {
		if cid := r.ids[rt].CampaignID; cid != "" && camps[cid] != nil {
			c := campRoot(cid)
			members[c] = append(members[c], int32(k))
		}
	}
	for _, cid := range sortedKeys(members) {
		next := r.campaignRollup(members[cid], roots, families, hosts, common)
		if next.Equal(camps[cid].Rollup) {
			continue
		}
		if err := r.c.st.UpdateCampaignRollup(ctx, cid, next); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		camps[cid].Rollup = next
		r.stats.CampaignRollups++
	}
	return nil
}

// campaignRollup derives a campaign's roll-up from its identities.
func (r *clusterRun) campaignRollup(m []int32, roots []string, families map[string][]int32, hosts [][]string, common map[string]bool) store.CampaignRollup {
	var out store.CampaignRollup
	out.IdentityCount = len(m)
	for _, k := range m {
		id := r.ids[roots[k]]
		ru := r.rollupOf(families[roots[k]], nil)
		if !ru.FirstSeenAt.IsZero() && (out.FirstSeenAt.IsZero() || ru.FirstSeenAt.Before(out.FirstSeenAt)) {
			out.FirstSeenAt = ru.FirstSeenAt
		}
		if ru.LastSeenAt.After(out.LastSeenAt) {
			out.LastSeenAt = ru.LastSeenAt
		}
		out.JA3Hashes = append(out.JA3Hashes, id.Rollup.JA3Hashes...)
		out.HASSHHashes = append(out.HASSHHashes, id.Rollup.HASSHHashes...)
		out.TLSCertSHA256 = append(out.TLSCertSHA256, id.Rollup.TLSCertSHA256...)
		for _, h := range hosts[k] {
			if !common[h] {
				out.C2Endpoints = append(out.C2Endpoints, h)
			}
		}
	}
	out.JA3Hashes, out.HASSHHashes = sortedSet(out.JA3Hashes), sortedSet(out.HASSHHashes)
	out.TLSCertSHA256, out.C2Endpoints = sortedSet(out.TLSCertSHA256), sortedSet(out.C2Endpoints)
	return out
}
