// Package attack is the embedded MITRE ATT&CK Enterprise catalogue: tactics,
// techniques and sub-techniques (ids, names, URLs, STIX ids, deprecated and
// revoked flags) and the intrusion sets (groups) known to use each technique.
//
// The data is ATT&CK Enterprise release 18.1, reduced to those fields, and is
// compiled into the binary so that rule validation, tag rollups and exports
// work offline. It is reproduced under MITRE's licence (data/LICENSE.txt):
//
//	© 2025 The MITRE Corporation. This work is reproduced and distributed with
//	the permission of The MITRE Corporation.
//
// The package knows nothing of events, tags or the store; it only answers
// questions about ATT&CK.
package attack

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"sync"
)

//go:embed data/enterprise-attack-18.1.json
var enterprise []byte

// License is the text of MITRE's ATT&CK licence, which must travel with any
// copy of the catalogue.
//
//go:embed data/LICENSE.txt
var License string

// Copyright is MITRE's copyright designation for the embedded catalogue.
const Copyright = "© 2025 The MITRE Corporation. This work is reproduced and distributed with the permission of The MITRE Corporation."

// Tactic is one ATT&CK tactic (TA0001 …), the "why" of a technique.
type Tactic struct {
	ID        string `json:"id"`
	ShortName string `json:"shortname"` // kill-chain phase name, e.g. "initial-access"
	Name      string `json:"name"`
	URL       string `json:"url"`
	STIXID    string `json:"stix_id"`
}

// Technique is an ATT&CK technique or sub-technique (T1059, T1059.004).
type Technique struct {
	ID           string   `json:"id"`
	Name         string   `json:"name"`
	STIXID       string   `json:"stix_id"`
	URL          string   `json:"url"`
	Tactics      []string `json:"tactics"` // tactic short names
	SubTechnique bool     `json:"subtechnique"`
	Platforms    []string `json:"platforms"`
	Deprecated   bool     `json:"deprecated"`
	Revoked      bool     `json:"revoked"`
	Version      string   `json:"version"`
	Modified     string   `json:"modified"`
}

// Parent is the id of the technique a sub-technique belongs to (T1059 for
// T1059.004), or the technique's own id.
func (t Technique) Parent() string {
	p, _, _ := strings.Cut(t.ID, ".")
	return p
}

// Usable reports whether new tags may name the technique: it is neither
// revoked nor deprecated in this release.
func (t Technique) Usable() bool { return !t.Revoked && !t.Deprecated }

// Group is an intrusion set (G0001 …) that MITRE reports using techniques.
type Group struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	URL  string `json:"url"`
}

// Catalogue is a loaded ATT&CK release. It is read-only after Load and safe
// for concurrent use.
type Catalogue struct {
	Release   string
	Domain    string
	Copyright string

	tactics    []Tactic
	tacticByID map[string]int // TA id and short name → index
	techniques map[string]Technique
	order      []string // technique ids in file order
	groups     map[string]Group
	techGroups map[string][]string
}

type file struct {
	Release        string              `json:"attack_release"`
	Domain         string              `json:"domain"`
	Source         string              `json:"source"`
	Copyright      string              `json:"copyright"`
	Tactics        []Tactic            `json:"tactics"`
	Techniques     []Technique         `json:"techniques"`
	Groups         []Group             `json:"groups"`
	TechniqueGroup map[string][]string `json:"technique_groups"`
}

var (
	techniqueID = regexp.MustCompile(`^T\d{4}(\.\d{3})?$`)
	tacticID    = regexp.MustCompile(`^TA\d{4}$`)
)

// Errors returned by lookups; wrapped with the id in question.
var (
	ErrUnknown  = errors.New("attack: unknown id")
	ErrRevoked  = errors.New("attack: technique revoked")
	ErrObsolete = errors.New("attack: technique deprecated")
)

// Load reads a catalogue in the reduced JSON form of data/. Every technique
// must name known tactics and every group reference must resolve.
func Load(r io.Reader) (*Catalogue, error) {
	var f file
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("attack: decode catalogue: %w", err)
	}
	c := &Catalogue{
		Release: f.Release, Domain: f.Domain, Copyright: f.Copyright,
		tactics:    f.Tactics,
		tacticByID: make(map[string]int, 2*len(f.Tactics)),
		techniques: make(map[string]Technique, len(f.Techniques)),
		groups:     make(map[string]Group, len(f.Groups)),
		techGroups: f.TechniqueGroup,
	}
	for i, t := range f.Tactics {
		if !tacticID.MatchString(t.ID) {
			return nil, fmt.Errorf("attack: bad tactic id %q", t.ID)
		}
		c.tacticByID[t.ID], c.tacticByID[t.ShortName] = i, i
	}
	for _, t := range f.Techniques {
		if !techniqueID.MatchString(t.ID) {
			return nil, fmt.Errorf("attack: bad technique id %q", t.ID)
		}
		if _, dup := c.techniques[t.ID]; dup {
			return nil, fmt.Errorf("attack: duplicate technique %s", t.ID)
		}
		for _, tac := range t.Tactics {
			if _, ok := c.tacticByID[tac]; !ok {
				return nil, fmt.Errorf("attack: technique %s names unknown tactic %q", t.ID, tac)
			}
		}
		c.techniques[t.ID] = t
		c.order = append(c.order, t.ID)
	}
	for _, g := range f.Groups {
		c.groups[g.ID] = g
	}
	for tid, gids := range f.TechniqueGroup {
		if _, ok := c.techniques[tid]; !ok {
			return nil, fmt.Errorf("attack: groups listed for unknown technique %s", tid)
		}
		for _, gid := range gids {
			if _, ok := c.groups[gid]; !ok {
				return nil, fmt.Errorf("attack: technique %s names unknown group %s", tid, gid)
			}
		}
	}
	return c, nil
}

var (
	defaultOnce sync.Once
	defaultCat  *Catalogue
)

// Default returns the catalogue compiled into the binary. A corrupt embedded
// file is a build defect, caught by this package's tests, so it panics.
func Default() *Catalogue {
	defaultOnce.Do(func() {
		c, err := Load(strings.NewReader(string(enterprise)))
		if err != nil {
			panic(err)
		}
		defaultCat = c
	})
	return defaultCat
}

// Technique returns the technique or sub-technique with the given id
// (T1059, T1059.004), revoked and deprecated ones included.
func (c *Catalogue) Technique(id string) (Technique, bool) {
	t, ok := c.techniques[id]
	return t, ok
}

// Check returns nil when id names a usable technique, else an error wrapping
// ErrUnknown, ErrRevoked or ErrObsolete.
func (c *Catalogue) Check(id string) error {
	t, ok := c.techniques[id]
	switch {
	case !ok:
		return fmt.Errorf("%w: technique %q not in ATT&CK %s", ErrUnknown, id, c.Release)
	case t.Revoked:
		return fmt.Errorf("%w: %s (%s) in ATT&CK %s", ErrRevoked, id, t.Name, c.Release)
	case t.Deprecated:
		return fmt.Errorf("%w: %s (%s) in ATT&CK %s", ErrObsolete, id, t.Name, c.Release)
	}
	return nil
}

// Techniques returns every technique and sub-technique, in catalogue order.
func (c *Catalogue) Techniques() []Technique {
	out := make([]Technique, 0, len(c.order))
	for _, id := range c.order {
		out = append(out, c.techniques[id])
	}
	return out
}

// SubTechniques returns the sub-techniques of a parent technique.
func (c *Catalogue) SubTechniques(parent string) []Technique {
	var out []Technique
	for _, id := range c.order {
		if strings.HasPrefix(id, parent+".") {
			out = append(out, c.techniques[id])
		}
	}
	return out
}

// Tactic returns a tactic by id (TA0001) or short name (initial-access).
func (c *Catalogue) Tactic(idOrName string) (Tactic, bool) {
	i, ok := c.tacticByID[idOrName]
	if !ok {
		return Tactic{}, false
	}
	return c.tactics[i], true
}

// Tactics returns every tactic in catalogue order.
func (c *Catalogue) Tactics() []Tactic { return slices.Clone(c.tactics) }

// HasTactic reports whether the technique belongs to the tactic (id or short name).
func (c *Catalogue) HasTactic(techniqueID, tactic string) bool {
	t, ok := c.techniques[techniqueID]
	tac, ok2 := c.Tactic(tactic)
	return ok && ok2 && slices.Contains(t.Tactics, tac.ShortName)
}

// Groups returns the intrusion sets MITRE reports using the technique, sorted
// by group id. The boolean is false for an unknown technique.
func (c *Catalogue) Groups(techniqueID string) ([]Group, bool) {
	if _, ok := c.techniques[techniqueID]; !ok {
		return nil, false
	}
	ids := slices.Clone(c.techGroups[techniqueID])
	slices.Sort(ids)
	out := make([]Group, 0, len(ids))
	for _, id := range ids {
		out = append(out, c.groups[id])
	}
	return out, true
}

// URL returns the technique's page on attack.mitre.org, or "" if unknown.
func (c *Catalogue) URL(techniqueID string) string {
	return c.techniques[techniqueID].URL
}
