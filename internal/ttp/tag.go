package ttp

import (
	"strconv"
	"time"

	"github.com/google/uuid"
)

// TagNamespace is uuid5(NAMESPACE_URL, "decnet:ttp_tag:v1"), DECNET's
// namespace for ttp_tag ids (spec data-api §1.5).
var TagNamespace = uuid.MustParse("1ca31f08-5522-5aae-8371-fe81f0e39de3")

// ConfidenceFloor is the lowest confidence a tag may have; weaker tags are
// dropped rather than stored.
const ConfidenceFloor = 0.3

// Tag is one (source event × rule × technique) mapping: a ttp_tag row without
// the attacker and identity anchors, which the pipeline resolves.
type Tag struct {
	ID             string         `json:"uuid"`
	SourceKind     string         `json:"source_kind"`
	SourceID       string         `json:"source_id"`
	RuleID         string         `json:"rule_id"`
	RuleVersion    int            `json:"rule_version"`
	Tactic         string         `json:"tactic"`
	TechniqueID    string         `json:"technique_id"`
	SubTechniqueID string         `json:"sub_technique_id,omitempty"`
	Confidence     float64        `json:"confidence"`
	Evidence       map[string]any `json:"evidence"`
	AttackRelease  string         `json:"attack_release"`
	MitreURL       string         `json:"mitre_url,omitempty"`

	// Where the tag came from, for anchoring (attacker by SrcIP, session).
	EventID    string    `json:"event_id,omitempty"`
	Decky      string    `json:"decky_id,omitempty"`
	Service    string    `json:"service,omitempty"`
	SrcIP      string    `json:"src_ip,omitempty"`
	Session    string    `json:"session_id,omitempty"`
	ObservedAt time.Time `json:"observed_at"`
}

// TagID is the ttp_tag primary key: UUIDv5 in TagNamespace over
// "source_kind|source_id|rule_id|rule_version|technique_id|sub_technique_id".
func TagID(sourceKind, sourceID, ruleID string, ruleVersion int, techniqueID, subTechniqueID string) string {
	name := sourceKind + "|" + sourceID + "|" + ruleID + "|" + strconv.Itoa(ruleVersion) + "|" + techniqueID + "|" + subTechniqueID
	return uuid.NewSHA1(TagNamespace, []byte(name)).String()
}
