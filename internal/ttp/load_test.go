package ttp

import (
	"testing"

	"github.com/decnet-go/decnet/internal/attack"
)

func TestEmbeddedRulesLoad(t *testing.T) {
	set, err := Embedded(attack.Default())
	if err != nil {
		t.Fatal(err)
	}
	if set.Len() < 59 {
		t.Errorf("%d rules, want at least 59", set.Len())
	}
}
