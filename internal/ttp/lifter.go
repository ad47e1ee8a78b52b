package ttp

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"path"
	"slices"
	"strings"
)

// HashIntel says whether a file hash is known malware (MalwareBazaar and the
// like). family may be empty.
type HashIntel interface {
	KnownBadHash(sha256 string) (family string, ok bool)
}

// IPVerdict is one intel provider's answer about an address. Signals are the
// provider's own labels: AbuseIPDB category numbers, GreyNoise tags, ThreatFox
// threat types, "listed" for Feodo.
type IPVerdict struct {
	Provider      string
	Verdict       string // malicious, suspicious, benign
	Score         int    // 0–100 where the provider scores; 0 = none
	Signals       []string
	MalwareFamily string
}

// IPIntel returns what intel providers know about an address.
type IPIntel interface {
	IPVerdicts(ip string) []IPVerdict
}

// FingerprintCatalogue recognises client fingerprints of known tools and C2
// frameworks. kind is hassh, ja3, ja3_hash, ja4 or jarm.
type FingerprintCatalogue interface {
	LookupFingerprint(kind, value string) (label string, ok bool)
}

// lifterDef is one named lifter: the source kinds it reads, its parameter
// type and its predicate (single-event) or state (windowed).
type lifterDef struct {
	name     string
	doc      string
	kinds    []string
	windowed bool
	params   func() any
	check    func(r *Rule) []error
	eval     func(e *Engine, r *Rule, v *view) []hit
	newState func(r *Rule) windowState
}

var lifters = map[string]*lifterDef{}

func register(d *lifterDef) {
	if d.params == nil {
		d.params = func() any { return &struct{}{} }
	}
	lifters[d.name] = d
}

func lifterNames() []string {
	out := make([]string, 0, len(lifters))
	for n := range lifters {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// Lifters lists the lifter names a rule may use, with one line on each.
func Lifters() map[string]string {
	out := make(map[string]string, len(lifters))
	for n, d := range lifters {
		out[n] = d.doc
	}
	return out
}

// ---- single-event lifters ------------------------------------------------

type defaultCredParams struct {
	Pairs []string `yaml:"pairs"` // "user:password"
}

type attachmentParams struct {
	Triggers []string `yaml:"triggers"`
}

type mailParams struct {
	RcptThreshold int `yaml:"rcpt_threshold"`
}

type fingerprintParams struct {
	Kinds []string `yaml:"kinds"`
}

type intelParams struct {
	Provider           string              `yaml:"provider"`
	Signals            map[string][]string `yaml:"signals"`
	ScoreMultiplier    bool                `yaml:"score_multiplier"`
	HighScoreThreshold int                 `yaml:"high_score_threshold"`
	HighScoreOnly      []string            `yaml:"high_score_only"` // techniques that need the high score
}

type reuseParams struct {
	MinTargets   int `yaml:"min_targets"`   // distinct decky/service targets
	MinAttackers int `yaml:"min_attackers"` // distinct attackers sharing the secret; 0 = any
}

type identityParams struct {
	MinSources int `yaml:"min_sources"` // distinct attackers (source addresses) in the identity
}

type canaryParams struct {
	TokenKinds []string `yaml:"token_kinds"`
	Metrics    []string `yaml:"metrics"`
}

// attachmentTriggers maps a trigger name to the file extensions that pull it.
var attachmentTriggers = map[string][]string{
	"office_macro":   {".docm", ".xlsm", ".pptm", ".dotm", ".xlam", ".xls", ".doc", ".ppt"},
	"lnk":            {".lnk", ".url", ".scf"},
	"disk_image":     {".iso", ".img", ".vhd", ".vhdx"},
	"archive":        {".zip", ".rar", ".7z", ".gz", ".tar", ".cab", ".ace"},
	"html_smuggling": {".html", ".htm", ".shtml", ".svg", ".xhtml"},
	"executable":     {".exe", ".scr", ".com", ".pif", ".bat", ".cmd", ".js", ".jse", ".vbs", ".vbe", ".wsf", ".hta", ".ps1", ".msi", ".dll", ".jar", ".elf", ".sh"},
	"mal_hash_match": nil,
}

type attachment struct {
	Filename    string `json:"filename"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`
}

func (a attachment) ext() string { return strings.ToLower(path.Ext(a.Filename)) }

// decodeAttachments reads message_stored's attachments_json (a JSON text or
// an already decoded array).
func decodeAttachments(raw any) []attachment {
	var out []attachment
	switch raw := raw.(type) {
	case string:
		if raw == "" {
			return nil
		}
		if err := json.Unmarshal([]byte(raw), &out); err != nil {
			return nil
		}
	case []any:
		b, _ := json.Marshal(raw)
		_ = json.Unmarshal(b, &out)
	}
	return out
}

func init() {
	register(&lifterDef{
		name: "default_credentials", kinds: []string{KindAuthAttempt},
		doc:    "a login tried a well-known default (user, password) pair",
		params: func() any { return &defaultCredParams{} },
		check: func(r *Rule) []error {
			var errs []error
			for _, p := range r.params.(*defaultCredParams).Pairs {
				if !strings.Contains(p, ":") {
					errs = append(errs, fmt.Errorf("pairs: %q is not user:password", p))
				}
			}
			return errs
		},
		eval: func(_ *Engine, r *Rule, v *view) []hit {
			c := v.ev.Credential
			if c == nil {
				return nil
			}
			pair := c.Principal + ":" + c.SecretPrintable
			if !slices.Contains(r.params.(*defaultCredParams).Pairs, pair) {
				return nil
			}
			return []hit{{evidence: map[string]any{"username": c.Principal, "secret": c.SecretPrintable, "outcome": c.Outcome}}}
		},
	})
	register(&lifterDef{
		name: "malicious_attachment", kinds: []string{KindEmail},
		doc:    "an attachment of a risky type (macro, lnk, disk image, html smuggling, executable) or whose hash intel knows (mal_hash_match)",
		params: func() any { return &attachmentParams{} },
		check: func(r *Rule) []error {
			var errs []error
			p := r.params.(*attachmentParams)
			if len(p.Triggers) == 0 {
				errs = append(errs, errors.New("triggers: list at least one"))
			}
			for _, t := range p.Triggers {
				if _, ok := attachmentTriggers[t]; !ok {
					errs = append(errs, fmt.Errorf("triggers: unknown trigger %q", t))
				}
			}
			return errs
		},
		eval: evalAttachment,
	})
	register(&lifterDef{
		name: "sender_mismatch", kinds: []string{KindEmail},
		doc: "the From header's domain differs from the envelope sender's or the Return-Path's",
		eval: func(_ *Engine, _ *Rule, v *view) []hit {
			from, _ := v.get("from_domain")
			env, _ := v.get("mail_from_domain")
			rp, _ := v.get("return_path_domain")
			env = strings.ToLower(env)
			if from == "" || (env == "" && rp == "") {
				return nil
			}
			if (env != "" && env != from) || (rp != "" && rp != from) {
				return []hit{{evidence: map[string]any{"from_domain": from, "mail_from_domain": env, "return_path_domain": rp}}}
			}
			return nil
		},
	})
	register(&lifterDef{
		name: "mass_mail", kinds: []string{KindEmail},
		doc:    "one message to at least rcpt_threshold recipients",
		params: func() any { return &mailParams{RcptThreshold: 10} },
		eval: func(_ *Engine, r *Rule, v *view) []hit {
			n, ok := number(v.ev.Fields["rcpt_count"])
			if !ok || int(n) < r.params.(*mailParams).RcptThreshold {
				return nil
			}
			return []hit{{evidence: map[string]any{"rcpt_count": int(n)}}}
		},
	})
	register(&lifterDef{
		name: "c2_fingerprint", kinds: []string{KindFingerprint},
		doc: "a client fingerprint (HASSH, JA3, JA4, JARM) found in the C2/tool catalogue",
		params: func() any {
			return &fingerprintParams{Kinds: []string{"hassh", "hassh_server", "ja3_hash", "ja4", "jarm"}}
		},
		eval: func(e *Engine, r *Rule, v *view) []hit {
			if e.opts.Fingerprints == nil {
				e.logOnce("fp:"+r.ID, "ttp: rule needs a fingerprint catalogue; none configured", "rule", r.ID)
				return nil
			}
			for _, k := range r.params.(*fingerprintParams).Kinds {
				val, ok := v.get(k)
				if !ok || val == "" {
					continue
				}
				if label, ok := e.opts.Fingerprints.LookupFingerprint(k, val); ok {
					return []hit{{evidence: map[string]any{"fingerprint_kind": k, "fingerprint": val, "label": label}}}
				}
			}
			return nil
		},
	})
	register(&lifterDef{
		name: "intel", kinds: []string{KindIntel},
		doc:    "an intel provider's signals about the source address, mapped to techniques by the rule",
		params: func() any { return &intelParams{} },
		check:  checkIntel,
		eval:   evalIntel,
	})
	register(&lifterDef{
		name: "mal_hash", kinds: []string{KindFile, KindDownload},
		doc: "a captured or fetched file whose SHA-256 hash intel knows as malware",
		eval: func(e *Engine, r *Rule, v *view) []hit {
			if e.opts.Hashes == nil {
				e.logOnce("hash:"+r.ID, "ttp: rule needs hash intel; none configured", "rule", r.ID)
				return nil
			}
			sha, _ := v.get("sha256")
			if sha == "" {
				return nil
			}
			fam, ok := e.opts.Hashes.KnownBadHash(strings.ToLower(sha))
			if !ok {
				return nil
			}
			return []hit{{evidence: map[string]any{"malware_family": fam, "sha256": sha}}}
		},
	})
	register(&lifterDef{
		name: "canary_use", kinds: []string{KindCanary},
		doc:    "a canary token was used (by token kind) or a canary page fingerprinted the client (by metric)",
		params: func() any { return &canaryParams{} },
		check: func(r *Rule) []error {
			p := r.params.(*canaryParams)
			if len(p.TokenKinds) == 0 && len(p.Metrics) == 0 {
				return []error{errors.New("give token_kinds or metrics")}
			}
			return nil
		},
		eval: func(_ *Engine, r *Rule, v *view) []hit {
			p := r.params.(*canaryParams)
			kind, _ := v.get("kind")
			metric, _ := v.get("metric")
			if (kind != "" && slices.Contains(p.TokenKinds, kind)) || (metric != "" && slices.Contains(p.Metrics, metric)) {
				return []hit{{}}
			}
			return nil
		},
	})
	register(&lifterDef{
		name: "reuse_detected", kinds: []string{KindCredential},
		doc:    "the credential-reuse worker saw one secret on at least min_targets deckies/services (and, when set, from at least min_attackers attackers)",
		params: func() any { return &reuseParams{MinTargets: 2} },
		check: func(r *Rule) []error {
			if r.params.(*reuseParams).MinTargets < 1 {
				return []error{errors.New("min_targets: must be at least 1")}
			}
			return nil
		},
		eval: func(_ *Engine, r *Rule, v *view) []hit {
			p := r.params.(*reuseParams)
			targets, _ := number(v.ev.Fields["target_count"])
			attackers := max(len(list(v.ev.Fields["attacker_uuids"])), len(list(v.ev.Fields["attacker_ips"])))
			if int(targets) < p.MinTargets || attackers < p.MinAttackers {
				return nil
			}
			ev := map[string]any{"target_count": int(targets), "attacker_count": attackers}
			for _, k := range [...]string{"deckies", "services"} {
				if l := list(v.ev.Fields[k]); len(l) > 0 {
					ev[k] = l
				}
			}
			if sk, ok := v.get("secret_kind"); ok {
				ev["secret_kind"] = sk
			}
			if id, ok := v.get("id"); ok {
				ev["reuse_id"] = id
			}
			return []hit{{evidence: ev}}
		},
	})
	register(&lifterDef{
		name: "identity_sources", kinds: []string{KindIdentity},
		doc:    "an identity (one actor) spans at least min_sources attackers (source addresses): formed over several (observation_uuids, attacker_uuids), or two identities merged",
		params: func() any { return &identityParams{MinSources: 2} },
		eval: func(_ *Engine, r *Rule, v *view) []hit {
			f := v.ev.Fields
			n, _ := number(f["attacker_count"])
			// observation_uuids are the attackers the identity links (the
			// original's name for them, kept by identity.formed).
			obs := list(f["observation_uuids"])
			sources := max(int(n), len(list(f["attacker_uuids"])), len(list(f["attacker_ips"])), len(obs))
			winner, _ := v.get("winner_uuid")
			loser, _ := v.get("loser_uuid")
			if winner != "" && loser != "" && winner != loser {
				sources = max(sources, 2) // each side held at least one attacker
			}
			if sources < r.params.(*identityParams).MinSources {
				return nil
			}
			ev := map[string]any{"attacker_count": sources}
			if id, ok := v.get("identity_uuid"); ok {
				ev["identity_uuid"] = id
			}
			if len(obs) > 0 {
				ev["observation_count"] = len(obs)
			}
			if winner != "" {
				ev["winner_uuid"], ev["loser_uuid"] = winner, loser
			}
			return []hit{{evidence: ev}}
		},
	})
	register(&lifterDef{
		name: "ipv6_link_local_leak", kinds: []string{KindIPv6Leak},
		doc: "the attacker's host disclosed a link-local IPv6 address (fe80::/10)",
		eval: func(_ *Engine, _ *Rule, v *view) []hit {
			a, _ := v.get("addr")
			ip, err := netip.ParseAddr(a)
			if err != nil || !ip.Is6() || !ip.IsLinkLocalUnicast() {
				return nil
			}
			ev := map[string]any{}
			for _, k := range EvidenceKeys(KindIPv6Leak) {
				if s, ok := v.get(k); ok {
					ev[k] = s
				}
			}
			return []hit{{evidence: ev}}
		},
	})
}

func evalAttachment(e *Engine, r *Rule, v *view) []hit {
	want := r.params.(*attachmentParams).Triggers
	var fired []string
	fire := func(t string) {
		if slices.Contains(want, t) && !slices.Contains(fired, t) {
			fired = append(fired, t)
		}
	}
	atts := decodeAttachments(v.ev.Fields["attachments_json"])
	byExt := func(ext string) {
		for t, exts := range attachmentTriggers {
			if slices.Contains(exts, ext) {
				fire(t)
			}
		}
	}
	for _, a := range atts {
		byExt(a.ext())
		// A double extension ("invoice.pdf.exe") is an executable too.
		if strings.Count(a.Filename, ".") >= 2 && slices.Contains(attachmentTriggers["executable"], a.ext()) {
			fire("executable")
		}
	}
	// email.received carries a PII-safe projection instead of the
	// attachment list: extensions and the ingester's content flags.
	if len(atts) == 0 {
		for _, ext := range list(v.ev.Fields["attachment_extensions"]) {
			ext = strings.ToLower(ext)
			if ext != "" && ext[0] != '.' {
				ext = "." + ext
			}
			byExt(ext)
		}
	}
	for flag, t := range map[string]string{"attachment_macros": "office_macro", "html_smuggling": "html_smuggling", "attachment_password_protected": "archive"} {
		if truthy(v.ev.Fields[flag]) {
			fire(t)
		}
	}
	var family string
	if m := v.ev.Fields["mal_hash_match"]; truthy(m) {
		fire("mal_hash_match")
		if fam, ok := m.(string); ok && fam != "true" {
			family = fam
		}
	} else if e.opts.Hashes != nil && slices.Contains(want, "mal_hash_match") {
		shas := list(v.ev.Fields["attachment_sha256s"])
		for _, a := range atts {
			shas = append(shas, a.SHA256)
		}
		for _, s := range shas {
			if fam, ok := e.opts.Hashes.KnownBadHash(strings.ToLower(s)); ok {
				family = fam
				fire("mal_hash_match")
				break
			}
		}
	}
	if len(fired) == 0 {
		return nil
	}
	slices.Sort(fired)
	ev := map[string]any{"trigger": strings.Join(fired, ",")}
	if family != "" {
		ev["mal_hash_match"] = family
	}
	return []hit{{evidence: ev}}
}

// truthy reads a flag that may arrive as a bool, a number or a string
// (false, 0, "", "false" and "0" are false).
func truthy(v any) bool {
	switch v := v.(type) {
	case nil:
		return false
	case bool:
		return v
	case string:
		return v != "" && v != "false" && v != "0"
	}
	n, ok := number(v)
	return !ok || n != 0
}

func checkIntel(r *Rule) []error {
	p := r.params.(*intelParams)
	var errs []error
	if p.Provider == "" {
		errs = append(errs, errors.New("provider: missing"))
	}
	if len(p.Signals) == 0 {
		errs = append(errs, errors.New("signals: map at least one provider signal to techniques"))
	}
	emitted := map[string]bool{}
	for _, em := range r.Emits {
		emitted[em.TechniqueID], emitted[em.Technique()] = true, true
	}
	keys := make([]string, 0, len(p.Signals))
	for k := range p.Signals {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, sig := range keys {
		for _, t := range p.Signals[sig] {
			if !emitted[t] {
				errs = append(errs, fmt.Errorf("signals[%s]: %s is not among the rule's emits", sig, t))
			}
		}
	}
	for _, t := range p.HighScoreOnly {
		if !emitted[t] {
			errs = append(errs, fmt.Errorf("high_score_only: %s is not among the rule's emits", t))
		}
	}
	return errs
}

func evalIntel(_ *Engine, r *Rule, v *view) []hit {
	p := r.params.(*intelParams)
	if prov, _ := v.get("provider"); prov != p.Provider {
		return nil
	}
	score, hasScore := number(v.ev.Fields["score"])
	only := map[string]bool{}
	var matched []string
	for _, sig := range list(v.ev.Fields["signals"]) {
		techs, ok := p.Signals[sig]
		if !ok {
			continue
		}
		matched = append(matched, sig)
		for _, t := range techs {
			if slices.Contains(p.HighScoreOnly, t) && (!hasScore || int(score) < p.HighScoreThreshold) {
				continue
			}
			only[t] = true
		}
	}
	if len(only) == 0 {
		return nil
	}
	ip, _ := v.get("ip")
	if ip == "" {
		ip = v.ev.SrcIP
	}
	h := hit{
		only:     only,
		sourceID: "intel:" + ip + ":" + p.Provider,
		evidence: map[string]any{"provider": p.Provider, "signal": strings.Join(matched, ","), "ip": ip},
	}
	if verdict, ok := v.get("verdict"); ok {
		h.evidence["verdict"] = verdict
	}
	if fam, ok := v.get("malware_family"); ok && fam != "" {
		h.evidence["malware_family"] = fam
	}
	if hasScore {
		h.evidence["score"] = int(score)
		if p.ScoreMultiplier {
			h.mult = max(score, 1) / 100
		}
	}
	return []hit{h}
}

func sortStrings(s []string) { slices.Sort(s) }
