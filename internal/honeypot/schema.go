package honeypot

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
)

// Schema lists the configuration keys a service accepts.
type Schema []Field

// Field is one configuration key of a service.
type Field struct {
	Key     string
	Type    string // "string", "int", "bool" or "enum"
	Enum    []string
	Default string
	Help    string
}

// Validate checks an operator's configuration against the schema and names
// the first key that is wrong.
func (s Schema) Validate(cfg map[string]string) error {
	// Sorted, so that with several wrong keys the same one is always named.
	for _, k := range slices.Sorted(maps.Keys(cfg)) {
		v := cfg[k]
		i := slices.IndexFunc(s, func(f Field) bool { return f.Key == k })
		if i < 0 {
			keys := make([]string, len(s))
			for j, f := range s {
				keys[j] = f.Key
			}
			return fmt.Errorf("unknown key %q (known: %v)", k, keys)
		}
		f := s[i]
		switch f.Type {
		case "int":
			if _, err := strconv.Atoi(v); err != nil {
				return fmt.Errorf("key %q: %q is not a whole number", k, v)
			}
		case "bool":
			if _, err := strconv.ParseBool(v); err != nil {
				return fmt.Errorf("key %q: %q is not true or false", k, v)
			}
		case "enum":
			if !slices.Contains(f.Enum, v) {
				return fmt.Errorf("key %q: %q is not one of %v", k, v, f.Enum)
			}
		}
	}
	return nil
}
