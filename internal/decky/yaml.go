package decky

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ParseYAML reads a fleet written in YAML (name is the file name errors
// show) and resolves it exactly as ParseINI does:
//
//	general: {net: 10.0.0.0/24, gw: 10.0.0.1, interface: eth0}
//	deckies:
//	  - name: web
//	    archetype: linux-server
//	    amount: 3
//	    service_config: {http: {server_header: nginx}}
//	custom:
//	  - {name: scada, binary: "example/scada:1", ports: [502]}
//
// Anchors and aliases are refused: a fleet file has no use for them and
// they let a small file expand into a huge one.
func ParseYAML(name string, data []byte, cat ServiceCatalog) (*Fleet, error) {
	if err := checkSize(name, data); err != nil {
		return nil, err
	}
	r := &raw{file: name, genWhere: "general", general: map[string]entry{}}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, &ConfigError{File: name, Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	if doc.Kind == 0 {
		return nil, r.errf(0, "empty file: add a deckies: list")
	}
	if err := refuseAliases(r, &doc, 0); err != nil {
		return nil, err
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, r.errf(root.Line, "expected a mapping with general, deckies and custom, got %s", kindName(root))
	}
	y := yamlReader{r}
	known := map[string]bool{}
	for _, n := range cat.Names() {
		known[n] = true
	}
	for k, v := range pairs(root) {
		switch k.Value {
		case "general":
			r.genLine = k.Line
			m, err := y.scalars(v, "general")
			if err != nil {
				return nil, err
			}
			r.general = m
		case "deckies":
			if v.Kind != yaml.SequenceNode {
				return nil, r.errf(v.Line, "deckies: expected a list, got %s", kindName(v))
			}
			for i, item := range v.Content {
				g, err := y.decky(item, i, known)
				if err != nil {
					return nil, err
				}
				r.groups = append(r.groups, g)
			}
		case "custom":
			if v.Kind != yaml.SequenceNode {
				return nil, r.errf(v.Line, "custom: expected a list, got %s", kindName(v))
			}
			for i, item := range v.Content {
				c, err := y.custom(item, i)
				if err != nil {
					return nil, err
				}
				r.customs = append(r.customs, c)
				known[c.name] = true
			}
		default:
			return nil, r.unknownKey(entry{key: k.Value, line: k.Line}, "the top level", []string{"general", "deckies", "custom"})
		}
	}
	// Service configuration may name a custom service listed after it.
	for _, g := range r.groups {
		for _, svc := range g.order {
			if !known[svc] {
				sec := g.svcs[svc]
				return nil, r.errf(sec.line, "%s: unknown service %q%s", sec.where, svc, suggest(svc, sortedKeys(known)))
			}
		}
	}
	return r.resolve(cat)
}

type yamlReader struct{ r *raw }

// pairs yields the key and value nodes of a mapping.
func pairs(m *yaml.Node) func(yield func(k, v *yaml.Node) bool) {
	return func(yield func(k, v *yaml.Node) bool) {
		for i := 0; i+1 < len(m.Content); i += 2 {
			if !yield(m.Content[i], m.Content[i+1]) {
				return
			}
		}
	}
}

// scalars reads a mapping of scalar values, refusing repeated keys.
func (y yamlReader) scalars(m *yaml.Node, where string) (map[string]entry, error) {
	if m.Kind != yaml.MappingNode {
		return nil, y.r.errf(m.Line, "%s: expected a mapping, got %s", where, kindName(m))
	}
	out := map[string]entry{}
	for k, v := range pairs(m) {
		if k.Kind != yaml.ScalarNode {
			return nil, y.r.errf(k.Line, "%s: expected a key, got %s", where, kindName(k))
		}
		if prev, dup := out[k.Value]; dup {
			return nil, y.r.errf(k.Line, "%s: %s is set twice (also at line %d)", where, k.Value, prev.line)
		}
		val, err := y.scalarOrList(v, where+" "+k.Value)
		if err != nil {
			return nil, err
		}
		out[k.Value] = entry{key: k.Value, val: val, line: k.Line}
	}
	return out, nil
}

// scalarOrList reads a scalar, or a list of scalars as the comma-separated
// string the INI format would hold (services, ports).
func (y yamlReader) scalarOrList(v *yaml.Node, where string) (string, error) {
	switch v.Kind {
	case yaml.ScalarNode:
		if v.Tag == "!!null" {
			return "", nil
		}
		return v.Value, nil
	case yaml.SequenceNode:
		parts := make([]string, 0, len(v.Content))
		for _, it := range v.Content {
			if it.Kind != yaml.ScalarNode {
				return "", y.r.errf(it.Line, "%s: expected a plain value in the list, got %s", where, kindName(it))
			}
			if strings.Contains(it.Value, ",") {
				return "", y.r.errf(it.Line, "%s: %q contains a comma", where, it.Value)
			}
			parts = append(parts, it.Value)
		}
		return strings.Join(parts, ","), nil
	}
	return "", y.r.errf(v.Line, "%s: expected a value, got %s", where, kindName(v))
}

func (y yamlReader) decky(m *yaml.Node, i int, known map[string]bool) (*group, error) {
	where := fmt.Sprintf("deckies[%d]", i)
	if m.Kind != yaml.MappingNode {
		return nil, y.r.errf(m.Line, "%s: expected a mapping with name, services, …, got %s", where, kindName(m))
	}
	g := &group{line: m.Line, keys: map[string]entry{}, svcs: map[string]*svcSection{}}
	var svcNode *yaml.Node
	for k, v := range pairs(m) {
		if k.Value == "name" {
			g.name = v.Value
		}
	}
	if g.name != "" {
		where = fmt.Sprintf("decky %q", g.name)
	}
	g.where = where
	for k, v := range pairs(m) {
		key := strings.ReplaceAll(k.Value, "-", "_")
		switch key {
		case "name":
			if v.Kind != yaml.ScalarNode {
				return nil, y.r.errf(v.Line, "%s name: expected a value, got %s", where, kindName(v))
			}
			continue
		case "service_config":
			svcNode = v
			continue
		}
		if prev, dup := g.keys[key]; dup {
			return nil, y.r.errf(k.Line, "%s: %s is set twice (also at line %d)", where, key, prev.line)
		}
		val, err := y.scalarOrList(v, where+" "+key)
		if err != nil {
			return nil, err
		}
		g.keys[key] = entry{key: key, val: val, line: k.Line}
	}
	if g.name == "" {
		return nil, y.r.errf(m.Line, "%s: name is missing", where)
	}
	if svcNode != nil {
		if svcNode.Kind != yaml.MappingNode {
			return nil, y.r.errf(svcNode.Line, "%s service_config: expected a mapping of service: {key: value}, got %s", where, kindName(svcNode))
		}
		for k, v := range pairs(svcNode) {
			swhere := fmt.Sprintf("%s service_config.%s", where, k.Value)
			if _, dup := g.svcs[k.Value]; dup {
				return nil, y.r.errf(k.Line, "%s is set twice", swhere)
			}
			kv, err := y.scalars(v, swhere)
			if err != nil {
				return nil, err
			}
			sec := &svcSection{line: k.Line, where: swhere}
			for _, key := range sortedKeys(kv) {
				sec.keys = append(sec.keys, kv[key])
			}
			g.svcs[k.Value] = sec
			g.order = append(g.order, k.Value)
		}
	}
	return g, nil
}

func (y yamlReader) custom(m *yaml.Node, i int) (customSection, error) {
	where := fmt.Sprintf("custom[%d]", i)
	kv, err := y.scalars(m, where)
	if err != nil {
		return customSection{}, err
	}
	c := customSection{name: kv["name"].val, line: m.Line, keys: kv}
	delete(kv, "name")
	if c.name == "" {
		return c, y.r.errf(m.Line, "%s: name is missing", where)
	}
	c.where = fmt.Sprintf("custom %q", c.name)
	return c, nil
}

func refuseAliases(r *raw, n *yaml.Node, depth int) error {
	if depth > 20 {
		return r.errf(n.Line, "nested too deeply")
	}
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		return r.errf(n.Line, "anchors and aliases (&, *) are not supported in a fleet file")
	}
	for _, c := range n.Content {
		if err := refuseAliases(r, c, depth+1); err != nil {
			return err
		}
	}
	return nil
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	case yaml.AliasNode:
		return "an alias"
	}
	return "nothing"
}
