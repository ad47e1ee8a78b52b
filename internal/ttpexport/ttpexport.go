// Package ttpexport reads what the store knows about attackers into the
// export package's model, for the API's export routes and `decnet export`.
package ttpexport

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/decnet-go/decnet/internal/export"
	"github.com/decnet-go/decnet/internal/store"
)

// Store is what the exports read.
type Store interface {
	AttackerByUUID(ctx context.Context, id string) (store.Attacker, error)
	AttackersSorted(ctx context.Context, p store.Page, sortBy string) ([]store.Attacker, int, error)
	Credentials(ctx context.Context, p store.Page) ([]store.Credential, int, error)
	Commands(ctx context.Context, ip string, limit, offset int) ([]store.Command, int, error)
	TagsInScope(ctx context.Context, scope, id string, limit int) ([]store.Tag, error)
}

// Caps on what one attacker contributes to an export.
const (
	maxTags        = 1000
	maxCommands    = 500
	maxCredentials = 500
	maxFleet       = 500 // attackers in a fleet bundle, most recently seen first
)

// Attacker loads one attacker with its credentials, commands and tags.
// An unknown uuid is store.ErrNotFound.
func Attacker(ctx context.Context, st Store, uuid string) (export.Attacker, error) {
	a, err := st.AttackerByUUID(ctx, uuid)
	if err != nil {
		return export.Attacker{}, err
	}
	return load(ctx, st, a)
}

// Fleet loads the most recently seen attackers (at most 500) that have at
// least one tag or command.
func Fleet(ctx context.Context, st Store) ([]export.Attacker, error) {
	rows, _, err := st.AttackersSorted(ctx, store.Page{Limit: maxFleet}, "recent")
	if err != nil {
		return nil, err
	}
	out := make([]export.Attacker, 0, len(rows))
	for _, a := range rows {
		x, err := load(ctx, st, a)
		if err != nil {
			return nil, err
		}
		if len(x.Tags) == 0 && len(x.Commands) == 0 {
			continue
		}
		out = append(out, x)
	}
	return out, nil
}

// FleetTags are the newest tags of the whole fleet, for a fleet layer.
func FleetTags(ctx context.Context, st Store) ([]export.Tag, error) {
	rows, err := st.TagsInScope(ctx, store.ScopeFleet, "", 10*maxTags)
	if err != nil {
		return nil, err
	}
	return Tags(rows), nil
}

// Tags maps stored tags into the export model.
func Tags(rows []store.Tag) []export.Tag {
	out := make([]export.Tag, 0, len(rows))
	for _, t := range rows {
		var ev map[string]any
		_ = json.Unmarshal(t.Evidence, &ev)
		out = append(out, export.Tag{UUID: t.UUID, Tactic: t.Tactic, TechniqueID: t.TechniqueID,
			SubTechniqueID: t.SubTechniqueID, Confidence: t.Confidence, RuleID: t.RuleID, Evidence: ev, CreatedAt: t.CreatedAt})
	}
	return out
}

func load(ctx context.Context, st Store, a store.Attacker) (export.Attacker, error) {
	x := export.Attacker{UUID: a.UUID, IPs: []string{a.IP}, FirstSeen: a.FirstSeen, LastSeen: a.LastSeen, EventCount: a.EventCount}
	creds, _, err := st.Credentials(ctx, store.Page{AttackerIP: a.IP, Limit: maxCredentials})
	if err != nil {
		return x, fmt.Errorf("export %s: credentials: %w", a.UUID, err)
	}
	for _, c := range creds {
		x.Credentials = append(x.Credentials, export.Credential{Service: c.Service, Username: c.Principal,
			Secret: c.SecretPrintable, Success: c.Outcome == "success", Attempts: c.AttemptCount})
	}
	cmds, _, err := st.Commands(ctx, a.IP, maxCommands, 0)
	if err != nil {
		return x, fmt.Errorf("export %s: commands: %w", a.UUID, err)
	}
	seen := map[string]int{}
	for _, c := range cmds {
		if i, ok := seen[c.Command]; ok {
			x.Commands[i].Count++
			continue
		}
		seen[c.Command] = len(x.Commands)
		x.Commands = append(x.Commands, export.Command{Text: c.Command, Count: 1, SeenAt: c.Time})
	}
	tags, err := st.TagsInScope(ctx, store.ScopeAttacker, a.UUID, maxTags)
	if err != nil {
		return x, fmt.Errorf("export %s: tags: %w", a.UUID, err)
	}
	x.Tags = Tags(tags)
	urls := map[string]bool{}
	for _, t := range x.Tags {
		if u, ok := t.Evidence["url"].(string); ok && u != "" && !urls[u] {
			urls[u] = true
			x.URLs = append(x.URLs, u)
		}
	}
	return x, nil
}
