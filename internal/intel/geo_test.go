package intel

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// writeMMDB builds a small MaxMind database at dir/name.
func writeMMDB(t *testing.T, dir, name, dbType string, records map[string]mmdbtype.Map) string {
	t.Helper()
	w, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: dbType, RecordSize: 24, IncludeReservedNetworks: true})
	if err != nil {
		t.Fatal(err)
	}
	for cidr, rec := range records {
		_, n, err := net.ParseCIDR(cidr)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Insert(n, rec); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, name)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func cityRecord(cc, country, city string, lat, lon float64) mmdbtype.Map {
	return mmdbtype.Map{
		"country":  mmdbtype.Map{"iso_code": mmdbtype.String(cc), "names": mmdbtype.Map{"en": mmdbtype.String(country)}},
		"city":     mmdbtype.Map{"names": mmdbtype.Map{"en": mmdbtype.String(city), "de": mmdbtype.String(city + "-de")}},
		"location": mmdbtype.Map{"latitude": mmdbtype.Float64(lat), "longitude": mmdbtype.Float64(lon)},
	}
}

const asnTSV = "1.0.0.0\t1.0.0.255\t13335\tUS\tCLOUDFLARENET\n" +
	"1.0.1.0\t1.0.3.255\t0\tNone\tNot routed\n" +
	"198.51.100.0\t198.51.100.255\t64501\tDE\tEXAMPLE-TRANSIT Example Transit GmbH\n" +
	"203.0.113.0\t203.0.113.127\t64502\tJP\tEXAMPLE-JP\n" +
	"2001:db8::\t2001:db8:ffff:ffff:ffff:ffff:ffff:ffff\t64503\tFR\tEXAMPLE-V6\n" +
	"garbage line\n" +
	"10.0.0.5\t10.0.0.1\t64999\tXX\tend before start\n"

func testGeo(t *testing.T) GeoConfig {
	t.Helper()
	dir := t.TempDir()
	city := writeMMDB(t, dir, "GeoLite2-City.mmdb", "GeoLite2-City", map[string]mmdbtype.Map{
		"81.2.69.0/24":    cityRecord("GB", "United Kingdom", "London", 51.5142, -0.0931),
		"2001:db8::/32":   cityRecord("FR", "France", "Paris", 48.8566, 2.3522),
		"198.51.100.0/24": {"country": mmdbtype.Map{"iso_code": mmdbtype.String("DE"), "names": mmdbtype.Map{"en": mmdbtype.String("Germany")}}},
	})
	asn := writeMMDB(t, dir, "GeoLite2-ASN.mmdb", "GeoLite2-ASN", map[string]mmdbtype.Map{
		"81.2.69.0/24": {"autonomous_system_number": mmdbtype.Uint32(20712), "autonomous_system_organization": mmdbtype.String("Andrews & Arnold Ltd")},
	})
	tsv := filepath.Join(dir, "ip2asn-combined.tsv.gz")
	if err := os.WriteFile(tsv, gzipped(t, asnTSV), 0o644); err != nil {
		t.Fatal(err)
	}
	return GeoConfig{CityDB: city, ASNDB: asn, IPToASN: tsv}
}

func TestGeoLookup(t *testing.T) {
	g, err := OpenGeo(testGeo(t))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	cases := []struct {
		ip    string
		found bool
		want  Location
	}{
		{"81.2.69.142", true, Location{CountryCode: "GB", Country: "United Kingdom", City: "London", Latitude: 51.5142, Longitude: -0.0931, HasCoords: true, ASN: 20712, ASOrg: "Andrews & Arnold Ltd", ASNSource: "mmdb"}},
		{"::ffff:81.2.69.1", true, Location{CountryCode: "GB", Country: "United Kingdom", City: "London", Latitude: 51.5142, Longitude: -0.0931, HasCoords: true, ASN: 20712, ASOrg: "Andrews & Arnold Ltd", ASNSource: "mmdb"}},
		{"198.51.100.23", true, Location{CountryCode: "DE", Country: "Germany", ASN: 64501, ASOrg: "EXAMPLE-TRANSIT Example Transit GmbH", ASNSource: "iptoasn"}},
		{"203.0.113.5", true, Location{CountryCode: "JP", ASN: 64502, ASOrg: "EXAMPLE-JP", ASNSource: "iptoasn"}},
		{"2001:db8::42", true, Location{CountryCode: "FR", Country: "France", City: "Paris", Latitude: 48.8566, Longitude: 2.3522, HasCoords: true, ASN: 64503, ASOrg: "EXAMPLE-V6", ASNSource: "iptoasn"}},
		{"1.0.2.1", false, Location{}},       // "Not routed"
		{"203.0.113.200", false, Location{}}, // past the range end
		{"192.0.2.1", false, Location{}},
	}
	for _, tc := range cases {
		t.Run(tc.ip, func(t *testing.T) {
			loc, found, err := g.Lookup(netip.MustParseAddr(tc.ip))
			if err != nil {
				t.Fatal(err)
			}
			if found != tc.found || loc != tc.want {
				t.Errorf("got %+v found=%v\nwant %+v found=%v", loc, found, tc.want, tc.found)
			}
		})
	}
}

func TestGeoInEnricher(t *testing.T) {
	cfg := Config{Enabled: true, Geo: testGeo(t), Logger: quietLogger()}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	r := e.Enrich(context.Background(), netip.MustParseAddr("81.2.69.142"))
	if r.Location == nil || r.Location.City != "London" || r.Location.ASN != 20712 {
		t.Errorf("location %+v", r.Location)
	}
	if r := e.Enrich(context.Background(), netip.MustParseAddr("192.0.2.1")); r.Location != nil {
		t.Errorf("unknown address got a location %+v", r.Location)
	}
}

func TestOpenGeoErrors(t *testing.T) {
	if g, err := OpenGeo(GeoConfig{}); g != nil || err != nil {
		t.Errorf("no files: %v %v, want nil, nil", g, err)
	}
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.mmdb")
	_ = os.WriteFile(junk, []byte("not a database"), 0o644)
	if _, err := OpenGeo(GeoConfig{CityDB: junk}); err == nil || !strings.Contains(err.Error(), junk) {
		t.Errorf("junk mmdb: %v", err)
	}
	if _, err := OpenGeo(GeoConfig{IPToASN: filepath.Join(dir, "missing.tsv")}); err == nil {
		t.Error("missing tsv accepted")
	}
	empty := filepath.Join(dir, "empty.tsv")
	_ = os.WriteFile(empty, []byte("1.0.1.0\t1.0.3.255\t0\tNone\tNot routed\n"), 0o644)
	if _, err := OpenGeo(GeoConfig{IPToASN: empty}); !errors.Is(err, ErrMalformed) {
		t.Errorf("table with no routed range: %v", err)
	}
}

func TestParseASNTableOverlaps(t *testing.T) {
	tab, err := ParseASNTable(strings.NewReader("10.0.0.0\t10.0.255.255\t1\tAA\tbig\n10.0.1.0\t10.0.1.255\t2\tBB\tinside\n10.1.0.0\t10.1.0.255\t3\tCC\tafter\n"))
	if err != nil {
		t.Fatal(err)
	}
	for ip, asn := range map[string]uint32{"10.0.1.5": 1, "10.1.0.9": 3, "10.0.255.255": 1} {
		if r, ok := tab.Lookup(netip.MustParseAddr(ip)); !ok || r.ASN != asn {
			t.Errorf("%s → %+v %v, want AS%d", ip, r, ok, asn)
		}
	}
	if _, ok := tab.Lookup(netip.MustParseAddr("10.2.0.0")); ok {
		t.Error("gap matched")
	}
	if _, err := ParseASNTable(bytes.NewReader(nil)); err == nil {
		t.Error("empty table accepted")
	}
}
