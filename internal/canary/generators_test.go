package canary

import (
	"archive/zip"
	"bufio"
	"bytes"
	"crypto/ed25519"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/decnet-go/decnet/internal/testkit/gate"
)

const (
	testBase = "http://cdn-assets.example.net:8088"
	testZone = "t.example.org"
)

func genParams(gen, slug string) Params {
	return Params{Token: testToken(gen, slug), HTTPBase: testBase, DNSZone: testZone, Persona: testPersona("decky-01")}
}

func TestGeneratorsList(t *testing.T) {
	want := []string{"git_config", "env_file", "ssh_key", "aws_creds", "honeydoc", "honeydoc_docx", "honeydoc_pdf", "mysql_dump", "fingerprint_html", "fingerprint_svg"}
	var got []string
	for _, g := range Generators() {
		got = append(got, g.Name)
		if g.Kind != KindHTTP && g.Kind != KindDNS && g.Kind != KindAWSPassive {
			t.Errorf("%s: kind %q", g.Name, g.Kind)
		}
		for _, p := range []string{g.DefaultPath(nil), g.DefaultPath(testPersona("decky-01"))} {
			if err := ValidPath(p); err != nil {
				t.Errorf("%s: default path: %v", g.Name, err)
			}
		}
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("generators %v, want %v", got, want)
	}
	if _, ok := LookupGenerator("nope"); ok {
		t.Error("LookupGenerator found an unknown name")
	}
}

// TestGeneratorsDeterministic: a re-plant writes the same bytes; another
// token (seed) writes different ones.
func TestGeneratorsDeterministic(t *testing.T) {
	for _, g := range Generators() {
		t.Run(g.Name, func(t *testing.T) {
			p := genParams(g.Name, "abcdefghij0123456789")
			a1, err := g.Make(p)
			if err != nil {
				t.Fatal(err)
			}
			// A fresh persona value for the same decky, as after a restart.
			p2 := p
			p2.Persona = testPersona("decky-01")
			a2, err := g.Make(p2)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(a1.Content, a2.Content) || a1.MtimeOffset != a2.MtimeOffset || a1.Mode != a2.Mode || a1.AccessKeyID != a2.AccessKeyID {
				t.Fatal("same params gave different output")
			}
			p3 := genParams(g.Name, "zyxwvutsrq9876543210")
			a3, err := g.Make(p3)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Equal(a1.Content, a3.Content) {
				t.Fatal("different tokens gave identical output")
			}
			p4 := p
			p4.Token.SecretSeed = "another-seed"
			a4, _ := g.Make(p4)
			if bytes.Equal(a1.Content, a4.Content) {
				t.Fatal("different seeds gave identical output")
			}
			if a1.MtimeOffset < 72*3600e9 || a1.Mode == 0 || a1.Path == "" {
				t.Fatalf("artifact %+v", a1.Path)
			}
			// The persona-less fallback works too.
			p.Persona = nil
			if _, err := g.Make(p); err != nil {
				t.Fatalf("nil persona: %v", err)
			}
		})
	}
}

func TestGeneratorsNeedTheirCallback(t *testing.T) {
	for _, g := range Generators() {
		p := genParams(g.Name, "abcdefghij0123456789")
		p.DNSZone, p.HTTPBase = "", ""
		_, err := g.Make(p)
		switch g.Kind {
		case KindDNS:
			if !errors.Is(err, ErrNoDNSZone) {
				t.Errorf("%s without zone: %v", g.Name, err)
			}
		case KindHTTP:
			if !errors.Is(err, ErrNoHTTPBase) {
				t.Errorf("%s without base: %v", g.Name, err)
			}
		default:
			if err != nil {
				t.Errorf("%s: %v", g.Name, err)
			}
		}
	}
}

func make1(t *testing.T, gen string) (Artifact, Params) {
	t.Helper()
	g, ok := LookupGenerator(gen)
	if !ok {
		t.Fatalf("no generator %s", gen)
	}
	p := genParams(gen, "k3j4h5g6f7d8s9a0q1w2")
	a, err := g.Make(p)
	if err != nil {
		t.Fatal(err)
	}
	return a, p
}

// parseINI is a strict-enough git-config/INI reader: sections and
// key = value lines, nothing else.
func parseINI(t *testing.T, s string) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	sec := ""
	sc := bufio.NewScanner(strings.NewReader(s))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			sec = line[1 : len(line)-1]
			out[sec] = map[string]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || sec == "" {
				t.Fatalf("line %d not INI: %q", n, line)
			}
			out[sec][strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return out
}

func TestGitConfig(t *testing.T) {
	a, p := make1(t, "git_config")
	ini := parseINI(t, string(a.Content))
	u := ini[`remote "origin"`]["url"]
	if !strings.Contains(u, "cdn-assets.example.net:8088/c/"+p.Token.Slug+"/") || !strings.Contains(u, p.Persona.User+":glpat-") {
		t.Fatalf("remote url %q", u)
	}
	if ini["core"]["bare"] != "false" || a.Mode != 0o644 {
		t.Fatalf("core %v mode %v", ini["core"], a.Mode)
	}
}

func TestAWSCreds(t *testing.T) {
	a, _ := make1(t, "aws_creds")
	ini := parseINI(t, string(a.Content))
	id, secret := ini["default"]["aws_access_key_id"], ini["default"]["aws_secret_access_key"]
	if !regexp.MustCompile(`^AKIA[A-Z2-7]{16}$`).MatchString(id) || id != a.AccessKeyID {
		t.Fatalf("key id %q (artifact %q)", id, a.AccessKeyID)
	}
	if !regexp.MustCompile(`^[A-Za-z0-9+/]{40}$`).MatchString(secret) {
		t.Fatalf("secret %q", secret)
	}
	if a.Mode != 0o600 || a.Path != "/root/bait" {
		t.Fatalf("mode %v path %s", a.Mode, a.Path)
	}
}

func TestEnvFile(t *testing.T) {
	a, p := make1(t, "env_file")
	vars := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(a.Content)), "\n") {
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || !regexp.MustCompile(`^[A-Z_]+$`).MatchString(k) {
			t.Fatalf("not a dotenv line: %q", line)
		}
		vars[k] = v
	}
	if vars["PAYMENT_WEBHOOK_URL"] != testBase+"/c/"+p.Token.Slug || vars["APP_ENV"] != "production" {
		t.Fatalf("env %v", vars)
	}
}

func TestSSHKey(t *testing.T) {
	a, p := make1(t, "ssh_key")
	host := p.Token.Slug + "." + testZone
	if !strings.HasPrefix(string(a.Content), "-----BEGIN OPENSSH PRIVATE KEY-----\n") || a.Mode != 0o600 {
		t.Fatalf("key file %q", a.Content[:40])
	}
	key, err := ssh.ParseRawPrivateKey(a.Content)
	if err != nil {
		t.Fatalf("x/crypto/ssh cannot parse the key: %v", err)
	}
	if _, ok := key.(*ed25519.PrivateKey); !ok {
		t.Fatalf("key type %T", key)
	}
	// The real ssh-keygen prints the comment with the public half.
	kg, err := exec.LookPath("ssh-keygen")
	if err != nil {
		gate.Missing(t, "ssh-keygen is not installed")
	}
	f := filepath.Join(t.TempDir(), "id_ed25519")
	if err := os.WriteFile(f, a.Content, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(kg, "-y", "-f", f).CombinedOutput()
	if err != nil {
		t.Fatalf("ssh-keygen -y: %v: %s", err, out)
	}
	if !strings.HasPrefix(string(out), "ssh-ed25519 AAAA") || !strings.HasSuffix(strings.TrimSpace(string(out)), "@"+host) {
		t.Fatalf("ssh-keygen -y: %s", out)
	}
}

func TestMySQLDump(t *testing.T) {
	a, p := make1(t, "mysql_dump")
	s := string(a.Content)
	host := p.Token.Slug + "." + testZone
	for _, want := range []string{"-- MySQL dump 10.13", "-- Host: " + host + "    Database: ", "MASTER_HOST='" + host + "'", "CREATE TABLE `users`", "-- Dump completed on "} {
		if !strings.Contains(s, want) {
			t.Errorf("dump lacks %q", want)
		}
	}
}

func TestHoneydoc(t *testing.T) {
	a, p := make1(t, "honeydoc")
	if !strings.Contains(string(a.Content), `<img src="`+testBase+"/c/"+p.Token.Slug+`?o=1"`) {
		t.Fatal("no beacon image")
	}
	if !strings.Contains(string(a.Content), p.Persona.User) {
		t.Fatal("does not name the persona's user")
	}
}

func TestDocx(t *testing.T) {
	a, p := make1(t, "honeydoc_docx")
	zr, err := zip.NewReader(bytes.NewReader(a.Content), int64(len(a.Content)))
	if err != nil {
		t.Fatalf("not a zip: %v", err)
	}
	files := map[string]string{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		files[f.Name] = string(b)
		if f.Modified.IsZero() || f.Modified.After(p.Token.CreatedAt) {
			t.Errorf("%s modified %v", f.Name, f.Modified)
		}
	}
	for _, n := range []string{"[Content_Types].xml", "_rels/.rels", "word/document.xml", "word/_rels/document.xml.rels", "docProps/core.xml"} {
		if _, ok := files[n]; !ok {
			t.Fatalf("docx lacks %s", n)
		}
	}
	rels := files["word/_rels/document.xml.rels"]
	if !strings.Contains(rels, `Target="`+testBase+"/c/"+p.Token.Slug+`" TargetMode="External"`) {
		t.Fatalf("rels: %s", rels)
	}
	if !strings.Contains(files["word/document.xml"], `r:link="rId1"`) {
		t.Fatal("document does not use the linked image")
	}
}

func TestPDF(t *testing.T) {
	a, p := make1(t, "honeydoc_pdf")
	s := string(a.Content)
	if !strings.HasPrefix(s, "%PDF-1.4\n") || !strings.HasSuffix(s, "%%EOF\n") {
		t.Fatal("not a PDF")
	}
	if !strings.Contains(s, "/S /URI /URI ("+testBase+"/c/"+p.Token.Slug+")") || !strings.Contains(s, "/OpenAction 5 0 R") {
		t.Fatal("no URI action")
	}
	// The xref offsets point at the objects.
	xref := regexp.MustCompile(`(\d{10}) 00000 n `).FindAllStringSubmatch(s, -1)
	if len(xref) != 8 {
		t.Fatalf("%d xref entries", len(xref))
	}
	for i, m := range xref {
		var off int
		for _, c := range m[1] {
			off = off*10 + int(c-'0')
		}
		if want := strings.TrimSpace(string(rune('1'+i))) + " 0 obj"; !strings.HasPrefix(s[off:], want) {
			t.Errorf("xref %d points at %q", i+1, s[off:off+8])
		}
	}
	// poppler (a real reader) opens it, finds one page and the text.
	t.Run("poppler", func(t *testing.T) {
		pdftotext, pdfinfo := gate.Tool(t, "pdftotext"), gate.Tool(t, "pdfinfo")
		f := filepath.Join(t.TempDir(), "x.pdf")
		if err := os.WriteFile(f, a.Content, 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(pdftotext, f, "-").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "Network credentials") || strings.Contains(string(out), "Syntax Error") {
			t.Fatalf("pdftotext: %v %s", err, out)
		}
		out, err = exec.Command(pdfinfo, f).CombinedOutput()
		if err != nil || !regexp.MustCompile(`(?m)^Pages:\s+1$`).Match(out) || !regexp.MustCompile(`(?m)^Producer:\s+LibreOffice`).Match(out) ||
			strings.Contains(string(out), "Error") {
			t.Fatalf("pdfinfo: %v %s", err, out)
		}
	})
}

func TestFingerprintPages(t *testing.T) {
	for _, gen := range []string{"fingerprint_html", "fingerprint_svg"} {
		t.Run(gen, func(t *testing.T) {
			a, p := make1(t, gen)
			s := string(a.Content)
			// Obfuscated: neither the URL, the nonce nor the tell-tale API
			// names appear in clear in the script.
			script := s[strings.Index(s, "(function(){"):]
			for _, clear := range []string{p.Token.Slug, p.Token.FingerprintNonce, "webdriver", "WEBGL_debug_renderer_info", "RTCPeerConnection", Mint(p.Token.Slug)} {
				if strings.Contains(script, clear) {
					t.Errorf("script shows %q in clear", clear)
				}
			}
			if gen == "fingerprint_svg" && !strings.HasPrefix(s, "<?xml") {
				t.Error("svg header")
			}
		})
	}
}
