package intel

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/oschwald/maxminddb-golang/v2"
)

// Location is where an address sits and which network announces it. Empty
// fields are unknown.
type Location struct {
	CountryCode string  `json:"country_code,omitempty"` // ISO 3166-1 alpha-2
	Country     string  `json:"country,omitempty"`      // English name
	City        string  `json:"city,omitempty"`
	Latitude    float64 `json:"latitude,omitempty"`
	Longitude   float64 `json:"longitude,omitempty"`
	HasCoords   bool    `json:"has_coords,omitempty"`
	ASN         uint32  `json:"asn,omitempty"`
	ASOrg       string  `json:"as_org,omitempty"`
	// Source names where the AS came from: "mmdb" or "iptoasn".
	ASNSource string `json:"asn_source,omitempty"`
}

// GeoConfig names the operator's database files; each is optional.
type GeoConfig struct {
	// CityDB is a GeoLite2/GeoIP2 City or Country database (.mmdb).
	CityDB string
	// ASNDB is a GeoLite2/GeoIP2 ASN database (.mmdb).
	ASNDB string
	// IPToASN is an iptoasn.com TSV (ip2asn-v4.tsv, ip2asn-combined.tsv,
	// optionally .gz): range_start, range_end, AS_number, country_code,
	// AS_description. Used for the AS when ASNDB is absent or has no match.
	IPToASN string
}

// Geo resolves addresses against the configured databases. It is safe for
// concurrent use.
type Geo struct {
	city  *maxminddb.Reader
	asn   *maxminddb.Reader
	table *ASNTable
}

// OpenGeo opens the configured files. With none configured it returns nil
// and no error: GeoIP is off.
func OpenGeo(c GeoConfig) (*Geo, error) {
	if c.CityDB == "" && c.ASNDB == "" && c.IPToASN == "" {
		return nil, nil
	}
	g := &Geo{}
	var err error
	if c.CityDB != "" {
		if g.city, err = maxminddb.Open(c.CityDB); err != nil {
			return nil, fmt.Errorf("open GeoIP city database %s: %w", c.CityDB, err)
		}
	}
	if c.ASNDB != "" {
		if g.asn, err = maxminddb.Open(c.ASNDB); err != nil {
			g.Close()
			return nil, fmt.Errorf("open GeoIP ASN database %s: %w", c.ASNDB, err)
		}
	}
	if c.IPToASN != "" {
		if g.table, err = OpenASNTable(c.IPToASN); err != nil {
			g.Close()
			return nil, err
		}
	}
	return g, nil
}

// NewGeo builds a Geo from already opened parts (any may be nil).
func NewGeo(city, asn *maxminddb.Reader, table *ASNTable) *Geo {
	return &Geo{city: city, asn: asn, table: table}
}

// Close releases the databases.
func (g *Geo) Close() error {
	if g == nil {
		return nil
	}
	var errs []error
	if g.city != nil {
		errs = append(errs, g.city.Close())
	}
	if g.asn != nil {
		errs = append(errs, g.asn.Close())
	}
	return errors.Join(errs...)
}

type mmdbCity struct {
	Country struct {
		ISOCode string            `maxminddb:"iso_code"`
		Names   map[string]string `maxminddb:"names"`
	} `maxminddb:"country"`
	RegisteredCountry struct {
		ISOCode string            `maxminddb:"iso_code"`
		Names   map[string]string `maxminddb:"names"`
	} `maxminddb:"registered_country"`
	City struct {
		Names map[string]string `maxminddb:"names"`
	} `maxminddb:"city"`
	Location struct {
		Latitude  *float64 `maxminddb:"latitude"`
		Longitude *float64 `maxminddb:"longitude"`
	} `maxminddb:"location"`
}

type mmdbASN struct {
	Number uint32 `maxminddb:"autonomous_system_number"`
	Org    string `maxminddb:"autonomous_system_organization"`
}

// Lookup resolves ip. found is false when no database knows it.
func (g *Geo) Lookup(ip netip.Addr) (loc Location, found bool, err error) {
	if g == nil || !ip.IsValid() {
		return loc, false, nil
	}
	ip = ip.Unmap()
	if g.city != nil {
		res := g.city.Lookup(ip)
		if res.Found() {
			var c mmdbCity
			if err := res.Decode(&c); err != nil {
				return loc, false, fmt.Errorf("geoip city %s: %w", ip, err)
			}
			found = true
			loc.CountryCode, loc.Country = c.Country.ISOCode, c.Country.Names["en"]
			if loc.CountryCode == "" {
				loc.CountryCode, loc.Country = c.RegisteredCountry.ISOCode, c.RegisteredCountry.Names["en"]
			}
			loc.City = c.City.Names["en"]
			if c.Location.Latitude != nil && c.Location.Longitude != nil {
				loc.Latitude, loc.Longitude, loc.HasCoords = *c.Location.Latitude, *c.Location.Longitude, true
			}
		} else if err := res.Err(); err != nil {
			return loc, false, fmt.Errorf("geoip city %s: %w", ip, err)
		}
	}
	if g.asn != nil {
		res := g.asn.Lookup(ip)
		if res.Found() {
			var a mmdbASN
			if err := res.Decode(&a); err != nil {
				return loc, found, fmt.Errorf("geoip asn %s: %w", ip, err)
			}
			if a.Number != 0 {
				found = true
				loc.ASN, loc.ASOrg, loc.ASNSource = a.Number, a.Org, "mmdb"
			}
		} else if err := res.Err(); err != nil {
			return loc, found, fmt.Errorf("geoip asn %s: %w", ip, err)
		}
	}
	if loc.ASN == 0 && g.table != nil {
		if r, ok := g.table.Lookup(ip); ok {
			found = true
			loc.ASN, loc.ASOrg, loc.ASNSource = r.ASN, r.Org, "iptoasn"
			if loc.CountryCode == "" {
				loc.CountryCode = r.Country
			}
		}
	}
	return loc, found, nil
}

// ASNRange is one row of the iptoasn table.
type ASNRange struct {
	Start, End netip.Addr
	ASN        uint32
	Country    string
	Org        string
}

// ASNTable is an iptoasn.com range table, sorted for binary search.
type ASNTable struct {
	ranges  []ASNRange // IPv4 ranges first (netip order), then IPv6
	starts4 []uint32   // starts of ranges[:len(starts4)], the IPv4 ones
}

// Len returns the number of routed ranges loaded.
func (t *ASNTable) Len() int { return len(t.ranges) }

// maxASNRows bounds the table (the real combined file has about 700 k rows).
const maxASNRows = 4 << 20

// OpenASNTable reads an iptoasn TSV file, plain or gzip-compressed.
func OpenASNTable(path string) (*ASNTable, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open iptoasn table: %w", err)
	}
	defer f.Close()
	t, err := ParseASNTable(f)
	if err != nil {
		return nil, fmt.Errorf("read iptoasn table %s: %w", path, err)
	}
	return t, nil
}

// ParseASNTable reads the iptoasn TSV format (range_start, range_end,
// AS_number, country_code, AS_description, tab-separated), plain or gzip.
// Rows with AS 0 ("Not routed") or that do not parse are skipped; a table
// with no usable row is an error. Overlapping ranges keep the first.
func ParseASNTable(r io.Reader) (*ASNTable, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	if magic, _ := br.Peek(2); bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%w: gzip: %v", ErrMalformed, err)
		}
		defer zr.Close()
		br = bufio.NewReaderSize(zr, 64<<10)
	}
	t := &ASNTable{}
	for {
		line, err := readLine(br)
		if row, ok := parseASNRow(line); ok {
			if len(t.ranges) >= maxASNRows {
				return nil, fmt.Errorf("%w: more than %d rows", ErrMalformed, maxASNRows)
			}
			t.ranges = append(t.ranges, row)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if len(t.ranges) == 0 {
		return nil, fmt.Errorf("%w: no routed range", ErrMalformed)
	}
	slices.SortStableFunc(t.ranges, func(a, b ASNRange) int { return a.Start.Compare(b.Start) })
	// Drop ranges overlapping an earlier one so the search stays correct.
	out := t.ranges[:1]
	for _, r := range t.ranges[1:] {
		if r.Start.Compare(out[len(out)-1].End) > 0 {
			out = append(out, r)
		}
	}
	t.ranges = slices.Clip(out)
	for _, r := range t.ranges {
		if !r.Start.Is4() {
			break
		}
		t.starts4 = append(t.starts4, v4key(r.Start))
	}
	return t, nil
}

func parseASNRow(line string) (ASNRange, bool) {
	var r ASNRange
	f := strings.SplitN(strings.TrimRight(line, "\r\n"), "\t", 5)
	if len(f) < 3 {
		return r, false
	}
	start, err1 := netip.ParseAddr(strings.TrimSpace(f[0]))
	end, err2 := netip.ParseAddr(strings.TrimSpace(f[1]))
	asn, err3 := strconv.ParseUint(strings.TrimSpace(f[2]), 10, 32)
	if err1 != nil || err2 != nil || err3 != nil || asn == 0 {
		return r, false
	}
	start, end = start.Unmap(), end.Unmap()
	if start.Is4() != end.Is4() || start.Zone() != "" || end.Zone() != "" || end.Less(start) {
		return r, false
	}
	r.Start, r.End, r.ASN = start, end, uint32(asn)
	if len(f) > 3 {
		if cc := strings.TrimSpace(f[3]); cc != "None" {
			r.Country = clip(cc, 8)
		}
	}
	if len(f) > 4 {
		r.Org = clip(f[4], 256)
	}
	return r, true
}

// Lookup returns the range holding ip.
func (t *ASNTable) Lookup(ip netip.Addr) (ASNRange, bool) {
	if t == nil || !ip.IsValid() {
		return ASNRange{}, false
	}
	ip = ip.Unmap().WithZone("")
	// i is the first range starting after ip; the candidate is the one before.
	var i int
	if ip.Is4() {
		i, _ = slices.BinarySearchFunc(t.starts4, v4key(ip), func(s, k uint32) int {
			if s <= k {
				return -1
			}
			return 1
		})
	} else {
		v6 := t.ranges[len(t.starts4):]
		j, _ := slices.BinarySearchFunc(v6, ip, func(r ASNRange, ip netip.Addr) int {
			if r.Start.Compare(ip) <= 0 {
				return -1
			}
			return 1
		})
		i = len(t.starts4) + j
	}
	if i == 0 {
		return ASNRange{}, false
	}
	r := t.ranges[i-1]
	if r.Start.Is4() == ip.Is4() && ip.Compare(r.End) <= 0 {
		return r, true
	}
	return ASNRange{}, false
}

func v4key(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}
