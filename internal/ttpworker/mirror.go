package ttpworker

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"slices"

	"github.com/decnet-go/decnet/internal/store"
	"github.com/decnet-go/decnet/internal/ttp"
)

// RuleMirror is what MirrorRules writes to (a *store.Store).
type RuleMirror interface {
	SyncRules(ctx context.Context, defs []store.RuleDef, by string) error
}

// MirrorRules writes the rule set into ttp_rule, so that SQL readers and
// other processes (the API of a split deployment) see the rules the worker
// runs: id, version, name, techniques, source kinds, where it was defined,
// its YAML and that YAML's SHA-256. Rules that left the set stay with
// loaded = 0. by is recorded as updated_by ("embedded", "filesystem").
func MirrorRules(ctx context.Context, m RuleMirror, set *ttp.RuleSet, by string) error {
	rules := set.Rules()
	defs := make([]store.RuleDef, 0, len(rules))
	for _, r := range rules {
		y, err := r.Definition()
		if err != nil {
			return err
		}
		sum := sha256.Sum256(y)
		var techs []string
		for _, e := range r.Emits {
			if t := e.Technique(); !slices.Contains(techs, t) {
				techs = append(techs, t)
			}
		}
		defs = append(defs, store.RuleDef{RuleID: r.ID, RuleVersion: r.Version, Name: r.Name, TechniqueIDs: techs,
			AppliesTo: r.AppliesTo, SourcePath: r.Source, YAML: string(y), DefinitionSHA256: hex.EncodeToString(sum[:]), Loaded: true})
	}
	return m.SyncRules(ctx, defs, by)
}
