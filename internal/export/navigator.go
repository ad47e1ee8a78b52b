package export

import (
	"slices"
	"strings"

	"github.com/decnet-go/decnet/internal/attack"
)

// Layer is an ATT&CK Navigator layer (format 4.5).
type Layer struct {
	Name        string           `json:"name"`
	Versions    LayerVersions    `json:"versions"`
	Domain      string           `json:"domain"`
	Description string           `json:"description"`
	Techniques  []LayerTechnique `json:"techniques"`
	Gradient    *LayerGradient   `json:"gradient,omitempty"`
}

// LayerVersions are the ATT&CK, Navigator and layer format versions.
type LayerVersions struct {
	Attack    string `json:"attack"`
	Navigator string `json:"navigator"`
	Layer     string `json:"layer"`
}

// LayerTechnique scores one technique (sub-techniques as T1110.001), under
// one tactic.
type LayerTechnique struct {
	TechniqueID string `json:"techniqueID"`
	Tactic      string `json:"tactic,omitempty"`
	Score       int    `json:"score"`
	Color       string `json:"color"`
	Comment     string `json:"comment"`
	Enabled     bool   `json:"enabled"`
}

// LayerGradient colours scores from min to max.
type LayerGradient struct {
	Colors   []string `json:"colors"`
	MinValue int      `json:"minValue"`
	MaxValue int      `json:"maxValue"`
}

// Navigator builds a layer scoring each technique (sub-technique ids kept)
// by the number of tags, per tactic. title ends the layer name, e.g. "fleet"
// or "identity <uuid>".
func Navigator(title string, tags []Tag, cat *attack.Catalogue) Layer {
	cat = catalogue(cat)
	type key struct{ tech, tactic string }
	counts := map[key]int{}
	rules := map[key]map[string]bool{}
	for _, tg := range tags {
		k := key{tg.Technique(), ""}
		if tac, ok := cat.Tactic(tg.Tactic); ok {
			k.tactic = tac.ShortName
		}
		counts[k]++
		if rules[k] == nil {
			rules[k] = map[string]bool{}
		}
		rules[k][tg.RuleID] = true
	}
	l := Layer{Name: "DECNET TTP coverage — " + title, Domain: "enterprise-attack",
		Versions:   LayerVersions{Attack: cat.Release, Navigator: "5.1.0", Layer: "4.5"},
		Techniques: []LayerTechnique{}}
	maxScore := 0
	for k, n := range counts {
		var ids []string
		for r := range rules[k] {
			ids = append(ids, r)
		}
		slices.Sort(ids)
		l.Techniques = append(l.Techniques, LayerTechnique{TechniqueID: k.tech, Tactic: k.tactic, Score: n, Comment: "rules " + strings.Join(ids, ", "), Enabled: true})
		maxScore = max(maxScore, n)
	}
	slices.SortFunc(l.Techniques, func(a, b LayerTechnique) int {
		if c := strings.Compare(a.TechniqueID, b.TechniqueID); c != 0 {
			return c
		}
		return strings.Compare(a.Tactic, b.Tactic)
	})
	if maxScore > 0 {
		l.Gradient = &LayerGradient{Colors: []string{"#ffe766", "#ff6666"}, MinValue: 0, MaxValue: maxScore}
	}
	return l
}
