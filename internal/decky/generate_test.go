package decky

import (
	"net/netip"
	"slices"
	"testing"
)

func TestGenerateOn(t *testing.T) {
	f, err := GenerateOn(3, GenerateOptions{Services: []string{"ssh"}}, Network{Subnet: netip.MustParsePrefix("10.0.0.0/24")})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range f {
		got = append(got, d.Name+"@"+d.IP.String())
	}
	if want := []string{"decky-01@10.0.0.2", "decky-02@10.0.0.3", "decky-03@10.0.0.4"}; !slices.Equal(got, want) {
		t.Errorf("fleet %v, want %v (network and gateway .1 skipped)", got, want)
	}
	if _, err := GenerateOn(3, GenerateOptions{Services: []string{"ssh"}}, Network{Subnet: netip.MustParsePrefix("10.0.0.0/30")}); err == nil {
		t.Error("a /30 (one free address) held 3 deckies")
	}
	if _, err := GenerateOn(1, GenerateOptions{Services: []string{"ssh"}}, Network{}); err == nil {
		t.Error("no subnet, no error")
	}
}
