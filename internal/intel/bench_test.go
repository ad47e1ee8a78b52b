package intel

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"
	"testing"
)

// BenchmarkHashSetLookup measures a membership test in a set the size of the
// real MalwareBazaar export (about 900 000 hashes).
func BenchmarkHashSetLookup(b *testing.B) {
	const n = 900_000
	set := make(hashSet, n)
	var buf [8]byte
	for i := range set {
		binary.LittleEndian.PutUint64(buf[:], uint64(i))
		set[i] = sha256.Sum256(buf[:])
	}
	set = normalise(set)
	idx := newHashIndex(set)
	probes := make([][32]byte, 1024)
	for i := range probes {
		if i%2 == 0 {
			probes[i] = set[(i*7919)%len(set)] // hit
		} else {
			binary.LittleEndian.PutUint64(buf[:], uint64(n+i))
			probes[i] = sha256.Sum256(buf[:]) // miss
		}
	}
	b.ResetTimer()
	hits := 0
	for i := 0; b.Loop(); i++ {
		if idx.contains(probes[i&1023]) {
			hits++
		}
	}
	if hits == 0 {
		b.Fatal("no hits")
	}
}

// BenchmarkASNTableLookup measures a lookup in a table the size of the real
// ip2asn-v4.tsv (about 500 000 ranges).
func BenchmarkASNTableLookup(b *testing.B) {
	const n = 500_000
	var sb strings.Builder
	for i := range n {
		start := uint32(i) << 12
		fmt.Fprintf(&sb, "%s\t%s\t%d\tZZ\tAS%d\n", u32(start), u32(start+3000), 64512+i%1000, i)
	}
	tab, err := ParseASNTable(strings.NewReader(sb.String()))
	if err != nil {
		b.Fatal(err)
	}
	probes := make([]netip.Addr, 1024)
	for i := range probes {
		probes[i] = u32(uint32(i*2654435761) >> 1)
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		tab.Lookup(probes[i&1023])
	}
}

func u32(v uint32) netip.Addr {
	var a [4]byte
	binary.BigEndian.PutUint32(a[:], v)
	return netip.AddrFrom4(a)
}

func TestHashIndexMatchesSet(t *testing.T) {
	var set hashSet
	var buf [8]byte
	for i := range 5000 {
		binary.LittleEndian.PutUint64(buf[:], uint64(i))
		set = append(set, sha256.Sum256(buf[:]))
	}
	set = append(set, [32]byte{}, [32]byte{0xff, 0xff, 0xff})
	set = normalise(set)
	idx := newHashIndex(set)
	for i := range 10000 {
		binary.LittleEndian.PutUint64(buf[:], uint64(i))
		k := sha256.Sum256(buf[:])
		if idx.contains(k) != (i < 5000) {
			t.Fatalf("hash %d: index says %v", i, idx.contains(k))
		}
	}
	for _, k := range [][32]byte{{}, {0xff, 0xff, 0xff}} {
		if !idx.contains(k) {
			t.Errorf("edge key %x missing", k[:3])
		}
	}
	if (*hashIndex)(nil).contains([32]byte{}) {
		t.Error("nil index contains a key")
	}
}

func TestASNTableEdges(t *testing.T) {
	tab, err := ParseASNTable(strings.NewReader("0.0.0.0\t0.0.0.255\t1\tAA\tlow\n255.255.255.0\t255.255.255.255\t2\tBB\thigh\n::\t::ff\t3\tCC\tv6low\n"))
	if err != nil {
		t.Fatal(err)
	}
	for ip, asn := range map[string]uint32{"0.0.0.0": 1, "255.255.255.255": 2, "::1": 3, "255.255.255.0": 2} {
		if r, ok := tab.Lookup(netip.MustParseAddr(ip)); !ok || r.ASN != asn {
			t.Errorf("%s → %+v %v, want AS%d", ip, r, ok, asn)
		}
	}
	for _, ip := range []string{"1.0.0.0", "::100", "255.255.254.255"} {
		if r, ok := tab.Lookup(netip.MustParseAddr(ip)); ok {
			t.Errorf("%s matched %+v", ip, r)
		}
	}
}
