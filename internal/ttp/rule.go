package ttp

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/decnet-go/decnet/internal/attack"
)

//go:embed rules/*.yaml
var embedded embed.FS

// Rule is one validated rule definition.
type Rule struct {
	ID             string   `yaml:"rule_id"`
	Version        int      `yaml:"rule_version"`
	Name           string   `yaml:"name"`
	Description    string   `yaml:"description"`
	AppliesTo      []string `yaml:"applies_to"`
	Services       []string `yaml:"services,omitempty"`
	EventTypes     []string `yaml:"event_types,omitempty"`
	Match          Match    `yaml:"match"`
	Emits          []Emit   `yaml:"emits"`
	EvidenceFields []string `yaml:"evidence_fields,omitempty"`
	LastReviewed   string   `yaml:"last_reviewed,omitempty"`
	NextReview     string   `yaml:"next_review,omitempty"`

	// Source is "file:line" of the rule's first key, for messages.
	Source string `yaml:"-"`

	matchers []fieldMatcher
	matchAll bool // every matcher must match (match.all), else any one
	lifter   *lifterDef
	params   any
}

// Match says how a rule recognises its events: regular expressions over
// fields (Field+Pattern, or Any), or a named lifter with its parameters.
type Match struct {
	Field   string         `yaml:"field,omitempty"`
	Pattern string         `yaml:"pattern,omitempty"`
	Any     []FieldPattern `yaml:"any,omitempty"`
	All     []FieldPattern `yaml:"all,omitempty"`
	Lifter  string         `yaml:"lifter,omitempty"`
	Params  yaml.Node      `yaml:"params,omitempty"`
}

// FieldPattern is one regular expression over one event field.
type FieldPattern struct {
	Field   string `yaml:"field"`
	Pattern string `yaml:"pattern"`
}

// Emit is one technique a matching rule reports.
type Emit struct {
	Tactic         string  `yaml:"tactic"`
	TechniqueID    string  `yaml:"technique_id"`
	SubTechniqueID string  `yaml:"sub_technique_id,omitempty"`
	Confidence     float64 `yaml:"confidence"`
}

// Technique is the most specific technique id of the emit: the
// sub-technique when there is one.
func (e Emit) Technique() string {
	if e.SubTechniqueID != "" {
		return e.SubTechniqueID
	}
	return e.TechniqueID
}

// IsLifter reports whether the rule is evaluated by a lifter rather than by
// regular expressions.
func (r *Rule) IsLifter() bool { return r.lifter != nil }

// Windowed reports whether the rule needs a Tracker (state over a stream).
func (r *Rule) Windowed() bool { return r.lifter != nil && r.lifter.windowed }

type fieldMatcher struct {
	field  string
	re     *regexp.Regexp
	filter prefilter
}

// RuleSet is a validated collection of rules with unique ids.
type RuleSet struct {
	rules []*Rule
	byID  map[string]*Rule
}

// Rules returns the rules sorted by id.
func (s *RuleSet) Rules() []*Rule { return slices.Clone(s.rules) }

// Rule returns the rule with the given id.
func (s *RuleSet) Rule(id string) (*Rule, bool) { r, ok := s.byID[id]; return r, ok }

// Len is the number of rules.
func (s *RuleSet) Len() int { return len(s.rules) }

func newRuleSet(rules []*Rule) *RuleSet {
	s := &RuleSet{byID: make(map[string]*Rule, len(rules))}
	for _, r := range rules {
		s.byID[r.ID] = r
	}
	for _, r := range s.byID {
		s.rules = append(s.rules, r)
	}
	sort.Slice(s.rules, func(i, j int) bool { return s.rules[i].ID < s.rules[j].ID })
	return s
}

var (
	ruleIDPattern   = regexp.MustCompile(`^R\d{4,}$`)
	ruleFilePattern = regexp.MustCompile(`^[A-Za-z0-9_]+\.ya?ml$`)
)

// Embedded returns the rule set compiled into the binary.
func Embedded(cat *attack.Catalogue) (*RuleSet, error) {
	rules, err := parseFS(embedded, "rules", cat)
	if err != nil {
		return nil, err
	}
	return checkUnique(rules)
}

// LoadDir reads every *.yaml / *.yml file of dir (not recursive) and
// validates its rules. The rules of a directory must have unique ids.
func LoadDir(dir string, cat *attack.Catalogue) (*RuleSet, error) {
	rules, err := parseFS(os.DirFS(dir), ".", cat)
	if err != nil {
		return nil, err
	}
	for _, r := range rules {
		r.Source = path.Join(dir, r.Source)
	}
	return checkUnique(rules)
}

// Load returns the embedded rules with those of dir laid over them: a rule
// in dir with the id of an embedded rule replaces it, any other is added.
// An empty dir gives the embedded rules alone.
func Load(dir string, cat *attack.Catalogue) (*RuleSet, error) {
	base, err := Embedded(cat)
	if err != nil {
		return nil, err
	}
	if dir == "" {
		return base, nil
	}
	over, err := LoadDir(dir, cat)
	if err != nil {
		return nil, err
	}
	return Merge(base, over), nil
}

// Merge lays over on top of base: rules of over replace those of base with
// the same id.
func Merge(base, over *RuleSet) *RuleSet {
	all := make([]*Rule, 0, base.Len()+over.Len())
	for _, r := range base.rules {
		if _, replaced := over.byID[r.ID]; !replaced {
			all = append(all, r)
		}
	}
	return newRuleSet(append(all, over.rules...))
}

func checkUnique(rules []*Rule) (*RuleSet, error) {
	seen := map[string]*Rule{}
	var errs []error
	for _, r := range rules {
		if prev, dup := seen[r.ID]; dup {
			errs = append(errs, fmt.Errorf("%s: rule_id %s already defined at %s", r.Source, r.ID, prev.Source))
			continue
		}
		seen[r.ID] = r
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return newRuleSet(rules), nil
}

func parseFS(fsys fs.FS, dir string, cat *attack.Catalogue) ([]*Rule, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("ttp rules: %w", err)
	}
	var rules []*Rule
	var errs []error
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !(strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")) {
			continue
		}
		if !ruleFilePattern.MatchString(name) {
			errs = append(errs, fmt.Errorf("%s: file name must match [A-Za-z0-9_]+.yaml", name))
			continue
		}
		data, err := fs.ReadFile(fsys, path.Join(dir, name))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			continue
		}
		rs, err := Parse(name, data, cat)
		if err != nil {
			errs = append(errs, err)
		}
		rules = append(rules, rs...)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return rules, nil
}

// Parse reads the rules of one YAML file: one rule per document, documents
// separated by "---". Every error names the file and line; all of a file's
// errors are returned together.
func Parse(name string, data []byte, cat *attack.Catalogue) ([]*Rule, error) {
	strict := yaml.NewDecoder(bytes.NewReader(data))
	strict.KnownFields(true)
	nodes := yaml.NewDecoder(bytes.NewReader(data))
	var rules []*Rule
	var errs []error
	for {
		var doc yaml.Node
		if err := nodes.Decode(&doc); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		r := new(Rule)
		if err := strict.Decode(r); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if len(doc.Content) == 0 {
			continue
		}
		r.Source = fmt.Sprintf("%s:%d", name, doc.Content[0].Line)
		for _, err := range r.validate(cat) {
			var fe *fieldError
			if errors.As(err, &fe) {
				errs = append(errs, fmt.Errorf("%s:%d: rule %s: %s: %s", name, lineOf(&doc, fe.path...), r.ID, fe.pathString(), fe.msg))
			} else {
				errs = append(errs, fmt.Errorf("%s: rule %s: %w", r.Source, r.ID, err))
			}
		}
		rules = append(rules, r)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return rules, nil
}

// fieldError is a validation error at a path of keys and indexes.
type fieldError struct {
	path []any
	msg  string
}

func (e *fieldError) Error() string { return e.pathString() + ": " + e.msg }

func (e *fieldError) pathString() string {
	var b strings.Builder
	for _, p := range e.path {
		switch p := p.(type) {
		case int:
			fmt.Fprintf(&b, "[%d]", p)
		default:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			fmt.Fprint(&b, p)
		}
	}
	return b.String()
}

func ferr(msg string, path ...any) error { return &fieldError{path: path, msg: msg} }

// lineOf finds the line of the node at path (map keys and list indexes)
// below a document node; it stops at the deepest node found.
func lineOf(doc *yaml.Node, path ...any) int {
	n := doc
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := n.Line
	for _, p := range path {
		switch p := p.(type) {
		case string:
			if n.Kind != yaml.MappingNode {
				return line
			}
			found := false
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == p {
					line, n, found = n.Content[i].Line, n.Content[i+1], true
					break
				}
			}
			if !found {
				return line
			}
		case int:
			if n.Kind != yaml.SequenceNode || p >= len(n.Content) {
				return line
			}
			n = n.Content[p]
			line = n.Line
		}
	}
	return line
}

func (r *Rule) validate(cat *attack.Catalogue) []error {
	var errs []error
	add := func(err error) { errs = append(errs, err) }
	if !ruleIDPattern.MatchString(r.ID) {
		add(ferr(fmt.Sprintf("%q is not a rule id like R0042", r.ID), "rule_id"))
	}
	if r.Version < 1 {
		add(ferr("must be a positive integer", "rule_version"))
	}
	if strings.TrimSpace(r.Name) == "" {
		add(ferr("missing", "name"))
	}
	if len(r.AppliesTo) == 0 {
		add(ferr("list at least one source kind", "applies_to"))
	}
	for i, k := range r.AppliesTo {
		if _, ok := evidenceAllow[k]; !ok {
			add(ferr(fmt.Sprintf("unknown source kind %q (known: %s)", k, strings.Join(SourceKinds(), ", ")), "applies_to", i))
		}
	}
	// Matcher.
	m := r.Match
	hasRegex := m.Pattern != "" || len(m.Any) > 0 || len(m.All) > 0
	switch {
	case hasRegex && m.Lifter != "":
		add(ferr("give either pattern/any or lifter, not both", "match"))
	case !hasRegex && m.Lifter == "":
		add(ferr("give a pattern, an any list or a lifter", "match"))
	case m.Lifter != "":
		def, ok := lifters[m.Lifter]
		if !ok {
			add(ferr(fmt.Sprintf("unknown lifter %q (known: %s)", m.Lifter, strings.Join(lifterNames(), ", ")), "match", "lifter"))
			break
		}
		r.lifter = def
		for i, k := range r.AppliesTo {
			if !slices.Contains(def.kinds, k) {
				add(ferr(fmt.Sprintf("lifter %s does not read %q events (it reads %s)", def.name, k, strings.Join(def.kinds, ", ")), "applies_to", i))
			}
		}
		p, err := decodeParams(def, &m.Params)
		if err != nil {
			add(ferr(err.Error(), "match", "params"))
			break
		}
		r.params = p
	default:
		n := 0
		for _, given := range []bool{m.Pattern != "", len(m.Any) > 0, len(m.All) > 0} {
			if given {
				n++
			}
		}
		if n > 1 {
			add(ferr("give one of pattern, any and all", "match"))
		}
		pats, list := m.Any, "any"
		switch {
		case m.Pattern != "":
			pats = []FieldPattern{{Field: m.Field, Pattern: m.Pattern}}
		case len(m.All) > 0:
			pats, list, r.matchAll = m.All, "all", true
		}
		for i, fp := range pats {
			where := []any{"match", "pattern"}
			if m.Pattern == "" {
				where = []any{"match", list, i, "pattern"}
			}
			re, err := regexp.Compile(fp.Pattern)
			if err != nil {
				add(ferr(fmt.Sprintf("does not compile as Go RE2: %v", err), where...))
				continue
			}
			field := fp.Field
			if field == "" {
				for _, k := range r.AppliesTo {
					if d := defaultField[k]; d != "" && field == "" {
						field = d
					} else if d != field {
						field = ""
						break
					}
				}
				if field == "" {
					add(ferr("no field given and the source kinds have no common default field", where[:len(where)-1]...))
					continue
				}
			}
			r.matchers = append(r.matchers, fieldMatcher{field: field, re: re, filter: newPrefilter(re)})
		}
	}
	// Emits.
	if len(r.Emits) == 0 {
		add(ferr("list at least one technique", "emits"))
	}
	for i, e := range r.Emits {
		if err := cat.Check(e.TechniqueID); err != nil {
			add(ferr(err.Error(), "emits", i, "technique_id"))
		} else if t, _ := cat.Technique(e.TechniqueID); t.SubTechnique {
			add(ferr(fmt.Sprintf("%s is a sub-technique: put %s here and it in sub_technique_id", e.TechniqueID, t.Parent()), "emits", i, "technique_id"))
		}
		if e.SubTechniqueID != "" {
			if !strings.HasPrefix(e.SubTechniqueID, e.TechniqueID+".") {
				add(ferr(fmt.Sprintf("%s is not a sub-technique of %s", e.SubTechniqueID, e.TechniqueID), "emits", i, "sub_technique_id"))
			} else if err := cat.Check(e.SubTechniqueID); err != nil {
				add(ferr(err.Error(), "emits", i, "sub_technique_id"))
			}
		}
		if tac, ok := cat.Tactic(e.Tactic); !ok || tac.ID != e.Tactic {
			add(ferr(fmt.Sprintf("%q is not an ATT&CK tactic id like TA0006", e.Tactic), "emits", i, "tactic"))
		} else if !cat.HasTactic(e.Technique(), e.Tactic) {
			t, _ := cat.Technique(e.Technique())
			add(ferr(fmt.Sprintf("%s (%s) is not a technique of %s (%s); it belongs to %s", e.Technique(), t.Name, e.Tactic, tac.Name, strings.Join(t.Tactics, ", ")), "emits", i, "tactic"))
		}
		if e.Confidence <= 0 || e.Confidence > 1 {
			add(ferr("must be in (0, 1]", "emits", i, "confidence"))
		}
	}
	// Evidence must stay inside every source kind's allowlist (PII rule).
	for i, f := range r.EvidenceFields {
		for _, k := range r.AppliesTo {
			if allow, ok := evidenceAllow[k]; ok && !allow[f] {
				add(ferr(fmt.Sprintf("%q may not be kept as evidence of %s events", f, k), "evidence_fields", i))
			}
		}
	}
	if r.lifter != nil && r.lifter.check != nil && r.params != nil {
		for _, err := range r.lifter.check(r) {
			add(ferr(err.Error(), "match", "params"))
		}
	}
	return errs
}

func decodeParams(def *lifterDef, n *yaml.Node) (any, error) {
	p := def.params()
	if n.Kind == 0 {
		return p, nil
	}
	raw, err := yaml.Marshal(n)
	if err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(p); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("lifter %s: %v", def.name, err)
	}
	return p, nil
}

// Definition renders the rule's validated definition back as YAML (what
// ttp_rule.yaml_content mirrors). It is stable for a given rule, so its
// hash tells a changed definition from an unchanged one.
func (r *Rule) Definition() ([]byte, error) { return yaml.Marshal(r) }
