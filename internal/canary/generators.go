package canary

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/decnet-go/decnet/internal/persona"
)

// ErrNoHTTPBase is returned by an http generator when no callback base URL
// is configured: without one the bait would call nowhere.
var ErrNoHTTPBase = errors.New("canary: no HTTP callback base configured")

// Artifact is one generated bait file.
type Artifact struct {
	Path    string
	Content []byte
	Mode    fs.FileMode
	// MtimeOffset backdates the file: its mtime is the planting time minus
	// this, so fresh bait does not stand out in ls -lt.
	MtimeOffset time.Duration
	// AccessKeyID is set when the bait holds an AWS key id (the passive
	// trigger looks it up).
	AccessKeyID string
	// Notes says, for the operator, what was planted and how it calls home.
	Notes string
}

// Params is everything a generator's output depends on. The same Params
// give byte-identical output, so a restart re-plants the same bytes.
type Params struct {
	Token    Token
	HTTPBase string
	DNSZone  string
	// Persona is the decky's persona (nil: a persona-less fallback that
	// still produces believable bait).
	Persona *persona.Persona
}

// Generator makes one kind of bait.
type Generator struct {
	Name, Kind, Description string
	// DefaultPath is where the bait goes when the operator names no path.
	DefaultPath func(p *persona.Persona) string
	Make        func(Params) (Artifact, error)
}

var generators = []Generator{
	{Name: "git_config", Kind: KindHTTP, Description: "a repository's .git/config whose origin remote (with a deploy token) is the callback URL",
		DefaultPath: gitConfigPath, Make: makeGitConfig},
	{Name: "env_file", Kind: KindHTTP, Description: "a Laravel-style .env with database, mail and API secrets; a webhook URL is the callback",
		DefaultPath: envFilePath, Make: makeEnvFile},
	{Name: "ssh_key", Kind: KindDNS, Description: "an unencrypted OpenSSH ed25519 private key whose comment names the callback host",
		DefaultPath: sshKeyPath, Make: makeSSHKey},
	{Name: "aws_creds", Kind: KindAWSPassive, Description: "~/.aws/credentials with an access key id and secret; fires when the key id is used against a decky",
		DefaultPath: awsCredsPath, Make: makeAWSCreds},
	{Name: "honeydoc", Kind: KindHTTP, Description: "an HTML password/VPN sheet that loads a 1x1 image from the callback URL when opened",
		DefaultPath: honeydocPath, Make: makeHoneydoc},
	{Name: "honeydoc_docx", Kind: KindHTTP, Description: "a Word document with an externally linked image at the callback URL",
		DefaultPath: docxPath, Make: makeDocx},
	{Name: "honeydoc_pdf", Kind: KindHTTP, Description: "a PDF whose open action and link open the callback URL",
		DefaultPath: pdfPath, Make: makePDF},
	{Name: "mysql_dump", Kind: KindDNS, Description: "a mysqldump file whose Host header and replication source name the callback host",
		DefaultPath: mysqlDumpPath, Make: makeMySQLDump},
	{Name: "fingerprint_html", Kind: KindHTTP, Description: "an HTML report with an obfuscated browser-fingerprint beacon",
		DefaultPath: fingerprintHTMLPath, Make: makeFingerprintHTML},
	{Name: "fingerprint_svg", Kind: KindHTTP, Description: "an SVG network diagram with an obfuscated browser-fingerprint beacon",
		DefaultPath: fingerprintSVGPath, Make: makeFingerprintSVG},
}

// Generators lists the bait generators in a stable order.
func Generators() []Generator {
	out := make([]Generator, len(generators))
	copy(out, generators)
	return out
}

// LookupGenerator finds a generator by name.
func LookupGenerator(name string) (Generator, bool) {
	for _, g := range generators {
		if g.Name == name {
			return g, true
		}
	}
	return Generator{}, false
}

// bait is the common state of one generation: the token's deterministic
// random stream and what the persona says about the machine.
type bait struct {
	p       Params
	r       *rand.Rand
	user    string // the login the bait belongs to
	home    string
	host    string // short host name
	fqdn    string
	domain  string    // the organisation's mail and web domain
	anchor  time.Time // the day the bait pretends to be from (never after planting)
	url     string    // http callback, "" for other kinds
	dnsHost string    // dns callback host, "" for other kinds
}

// newBait checks the inputs a kind needs and seeds the stream from the
// token's secret seed and slug — never from the clock or crypto/rand, so
// the output is reproducible.
func newBait(p Params, name, kind string) (*bait, error) {
	if !validSlug(p.Token.Slug) {
		return nil, fmt.Errorf("%s: token slug %q is not 1-63 lower-case letters and digits", name, p.Token.Slug)
	}
	m := hmac.New(sha256.New, []byte(p.Token.SecretSeed))
	m.Write([]byte(name))
	m.Write([]byte{0})
	m.Write([]byte(p.Token.Slug))
	var seed [32]byte
	copy(seed[:], m.Sum(nil))
	b := &bait{p: p, r: rand.New(rand.NewChaCha8(seed))}

	switch kind {
	case KindHTTP:
		u, err := callbackURL(p.HTTPBase, p.Token.Slug)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		b.url = u
	case KindDNS:
		zone := normZone(p.DNSZone)
		if zone == "" {
			return nil, fmt.Errorf("%s: %w", name, ErrNoDNSZone)
		}
		b.dnsHost = p.Token.Slug + "." + zone
	}

	if pp := p.Persona; pp != nil {
		b.user, b.home = pp.User, "/home/"+pp.User
		if l, ok := pp.Account(pp.User); ok && l.Home != "" {
			b.home = l.Home
		}
		b.host, b.fqdn = pp.ShortHostname(), pp.Hostname
	} else {
		// Persona-less fallback (a preview for a stopped decky): names
		// drawn from the token so they still vary between tokens.
		b.user = pick(b.r, []string{"deploy", "admin", "ops", "devops", "backup"})
		b.home = "/home/" + b.user
		b.host = pick(b.r, []string{"web", "app", "db", "files", "build"}) + fmt.Sprintf("-%02d", 1+b.r.IntN(20))
		b.fqdn = b.host
	}
	if b.user == "" {
		b.user, b.home = "root", "/root"
	}
	b.domain = domainOf(b.fqdn)
	if b.domain == "" {
		// A bare host name: the organisation still has a domain.
		b.domain = pick(b.r, []string{"nordwind", "brightpath", "helix-systems", "bluepeak", "kestrel-it", "acmelogistics"}) +
			pick(b.r, []string{".com", ".de", ".io", ".net", ".co.uk"})
	}
	// The token's creation day is stored with it, so dates derived from it
	// are the same on a re-plant; the persona's boot time is not (it is
	// re-derived from the clock on every start).
	switch {
	case !p.Token.CreatedAt.IsZero():
		b.anchor = p.Token.CreatedAt.UTC().Truncate(24 * time.Hour)
	case p.Persona != nil:
		b.anchor = p.Persona.InstallTime().UTC().Truncate(24*time.Hour).AddDate(0, 6, 0)
	default:
		b.anchor = time.Date(2025, 1, 6, 0, 0, 0, 0, time.UTC)
	}
	return b, nil
}

// ago is a deterministic moment between min and max days before the anchor,
// during working hours (files people write are written by day).
func (b *bait) ago(minDays, maxDays int) time.Time {
	d := minDays + b.r.IntN(maxDays-minDays+1)
	t := b.anchor.AddDate(0, 0, -d)
	return t.Add(time.Duration(8*3600+b.r.IntN(10*3600)) * time.Second)
}

// mtimeOffset backdates the file by days to months.
func (b *bait) mtimeOffset() time.Duration {
	return time.Duration(3*24*3600+b.r.IntN(120*24*3600)) * time.Second
}

func (b *bait) artifact(defPath func(*persona.Persona) string, content []byte, mode fs.FileMode, notes string) Artifact {
	p := b.p.Token.PlacementPath
	if p == "" {
		p = defPath(b.p.Persona)
	}
	return Artifact{Path: p, Content: content, Mode: mode, MtimeOffset: b.mtimeOffset(), Notes: notes}
}

func validSlug(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

func normZone(z string) string {
	return strings.ToLower(strings.Trim(strings.TrimSpace(z), "."))
}

// callbackURL is <base>/c/<slug>; base must be an absolute http(s) URL.
func callbackURL(base, slug string) (string, error) {
	if base == "" {
		return "", ErrNoHTTPBase
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("canary: HTTP callback base %q is not an absolute http(s) URL", base)
	}
	return strings.TrimRight(base, "/") + "/c/" + slug, nil
}

func homeOf(p *persona.Persona) string {
	if p == nil || p.User == "" {
		return "/root"
	}
	if l, ok := p.Account(p.User); ok && l.Home != "" {
		return l.Home
	}
	return "/home/" + p.User
}

func pick(r *rand.Rand, xs []string) string { return xs[r.IntN(len(xs))] }

const (
	lowerAlnum = "abcdefghijklmnopqrstuvwxyz0123456789"
	mixedAlnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	awsB32     = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	awsSecret  = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	hexDigits  = "0123456789abcdef"
)

func randString(r *rand.Rand, alphabet string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

// --- git_config -----------------------------------------------------------

var projects = []string{"billing-api", "infra", "webapp", "deploy-scripts", "customer-portal", "ansible", "backend", "monitoring"}

func projectOf(p *persona.Persona) string {
	if p == nil {
		return "app"
	}
	return pick(p.Rand("canary-project"), projects)
}

func gitConfigPath(p *persona.Persona) string {
	return homeOf(p) + "/" + projectOf(p) + "/.git/config"
}

func makeGitConfig(p Params) (Artifact, error) {
	b, err := newBait(p, "git_config", KindHTTP)
	if err != nil {
		return Artifact{}, err
	}
	proj := projectOf(p.Persona)
	// A planted path .../<repo>/.git/config names the repository itself.
	if dir := path.Dir(path.Dir(p.Token.PlacementPath)); strings.HasSuffix(p.Token.PlacementPath, "/.git/config") && dir != "/" && dir != "." {
		proj = path.Base(dir)
	}
	org := pick(b.r, []string{"platform", "ops", "internal", "eng", "backend-team"})
	// The remote carries a deploy token in the URL the way CI setups often
	// leave it; git's first request (info/refs) goes to /c/<slug>/…, which
	// the listener counts as a trigger.
	u, _ := url.Parse(b.url + "/" + org + "/" + proj + ".git")
	u.User = url.UserPassword(b.user, "glpat-"+randString(b.r, mixedAlnum+"-_", 20))
	branch := pick(b.r, []string{"main", "master"})
	var sb strings.Builder
	sb.WriteString("[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = false\n\tlogallrefupdates = true\n")
	fmt.Fprintf(&sb, "[remote \"origin\"]\n\turl = %s\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n", u.String())
	fmt.Fprintf(&sb, "[branch \"%s\"]\n\tremote = origin\n\tmerge = refs/heads/%s\n", branch, branch)
	if b.r.IntN(2) == 0 {
		fmt.Fprintf(&sb, "[user]\n\tname = %s\n\temail = %s@%s\n", b.user, b.user, b.domain)
	}
	return b.artifact(gitConfigPath, []byte(sb.String()), 0o644,
		"git remote URL "+b.url+"/…; fires when the repository is fetched or cloned"), nil
}

// --- env_file ---------------------------------------------------------------

func envFilePath(*persona.Persona) string { return "/var/www/html/.env" }

func makeEnvFile(p Params) (Artifact, error) {
	b, err := newBait(p, "env_file", KindHTTP)
	if err != nil {
		return Artifact{}, err
	}
	app := pick(b.r, []string{"Portal", "Billing", "Shop", "CRM", "Helpdesk"})
	db := strings.ToLower(app) + "_prod"
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(b.r.IntN(256))
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "APP_NAME=%s\nAPP_ENV=production\nAPP_KEY=base64:%s\nAPP_DEBUG=false\nAPP_URL=https://%s.%s\n\n", app, b64std(key), strings.ToLower(app), b.domain)
	sb.WriteString("LOG_CHANNEL=stack\nLOG_LEVEL=warning\n\n")
	fmt.Fprintf(&sb, "DB_CONNECTION=mysql\nDB_HOST=127.0.0.1\nDB_PORT=3306\nDB_DATABASE=%s\nDB_USERNAME=%s\nDB_PASSWORD=%s\n\n",
		db, strings.ToLower(app), randString(b.r, mixedAlnum, 18))
	sb.WriteString("BROADCAST_DRIVER=log\nCACHE_DRIVER=redis\nQUEUE_CONNECTION=redis\nSESSION_DRIVER=redis\nSESSION_LIFETIME=120\n\n")
	fmt.Fprintf(&sb, "REDIS_HOST=127.0.0.1\nREDIS_PASSWORD=%s\nREDIS_PORT=6379\n\n", randString(b.r, mixedAlnum, 24))
	fmt.Fprintf(&sb, "MAIL_MAILER=smtp\nMAIL_HOST=smtp.mailgun.org\nMAIL_PORT=587\nMAIL_USERNAME=postmaster@mg.%s\nMAIL_PASSWORD=%s\nMAIL_ENCRYPTION=tls\nMAIL_FROM_ADDRESS=\"noreply@%s\"\n\n",
		b.domain, randString(b.r, hexDigits, 32)+"-"+randString(b.r, hexDigits, 8)+"-"+randString(b.r, hexDigits, 8), b.domain)
	fmt.Fprintf(&sb, "STRIPE_KEY=pk_live_%s\nSTRIPE_SECRET=sk_live_%s\n", randString(b.r, mixedAlnum, 24), randString(b.r, mixedAlnum, 24))
	// The callback: a webhook/internal API endpoint anyone looting the
	// file will try with curl.
	fmt.Fprintf(&sb, "PAYMENT_WEBHOOK_URL=%s\nINTERNAL_API_TOKEN=%s\n", b.url, randString(b.r, lowerAlnum, 40))
	return b.artifact(envFilePath, []byte(sb.String()), 0o640,
		"PAYMENT_WEBHOOK_URL is the callback; fires when someone requests it"), nil
}

// --- aws_creds --------------------------------------------------------------

// awsKeyID draws an access key id of the real shape: AKIA and 16 characters
// of the base32 alphabet AWS uses.
func awsKeyID(r *rand.Rand) string { return "AKIA" + randString(r, awsB32, 16) }

func awsCredsPath(*persona.Persona) string { return "/root/.aws/credentials" }

func makeAWSCreds(p Params) (Artifact, error) {
	b, err := newBait(p, "aws_creds", KindAWSPassive)
	if err != nil {
		return Artifact{}, err
	}
	id := awsKeyID(b.r)
	secret := randString(b.r, awsSecret, 40)
	content := fmt.Sprintf("[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n", id, secret)
	if b.r.IntN(2) == 0 {
		content += "region = " + pick(b.r, []string{"us-east-1", "eu-west-1", "eu-central-1", "us-west-2"}) + "\n"
	}
	a := b.artifact(awsCredsPath, []byte(content), 0o600,
		"AWS key "+id+"; fires when the key id appears in a request to any decky")
	a.AccessKeyID = id
	return a, nil
}

// --- mysql_dump ---------------------------------------------------------------

func dbNameOf(p *persona.Persona) string {
	if p == nil {
		return "app"
	}
	return pick(p.Rand("canary-db"), []string{"shop", "crm", "billing", "wordpress", "portal", "inventory"})
}

func mysqlDumpPath(p *persona.Persona) string {
	return "/var/backups/mysql/" + dbNameOf(p) + ".sql"
}

func makeMySQLDump(p Params) (Artifact, error) {
	b, err := newBait(p, "mysql_dump", KindDNS)
	if err != nil {
		return Artifact{}, err
	}
	db := dbNameOf(p.Persona)
	ver := pick(b.r, []string{"8.0.36", "8.0.39", "8.0.40", "8.0.41"})
	done := b.ago(1, 20)
	var sb strings.Builder
	fmt.Fprintf(&sb, "-- MySQL dump 10.13  Distrib %s, for Linux (x86_64)\n--\n-- Host: %s    Database: %s\n", ver, b.dnsHost, db)
	sb.WriteString("-- ------------------------------------------------------\n")
	fmt.Fprintf(&sb, "-- Server version\t%s-0ubuntu0.22.04.1-log\n\n", ver)
	sb.WriteString("/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;\n/*!40101 SET @OLD_CHARACTER_SET_RESULTS=@@CHARACTER_SET_RESULTS */;\n" +
		"/*!40101 SET @OLD_COLLATION_CONNECTION=@@COLLATION_CONNECTION */;\n/*!50503 SET NAMES utf8mb4 */;\n/*!40103 SET @OLD_TIME_ZONE=@@TIME_ZONE */;\n" +
		"/*!40103 SET TIME_ZONE='+00:00' */;\n/*!40014 SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS, UNIQUE_CHECKS=0 */;\n" +
		"/*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */;\n" +
		"/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO' */;\n/*!40111 SET @OLD_SQL_NOTES=@@SQL_NOTES, SQL_NOTES=0 */;\n\n")
	// The replication coordinates name the source server: restoring or
	// re-pointing a replica resolves it.
	fmt.Fprintf(&sb, "--\n-- Position to start replication or point-in-time recovery from\n--\n\n-- CHANGE MASTER TO MASTER_HOST='%s', MASTER_PORT=3306, MASTER_USER='repl', MASTER_PASSWORD='%s', MASTER_LOG_FILE='mysql-bin.%06d', MASTER_LOG_POS=%d;\n\n",
		b.dnsHost, randString(b.r, mixedAlnum, 16), 1+b.r.IntN(400), 4+b.r.IntN(90000000))
	sb.WriteString("--\n-- Table structure for table `users`\n--\n\nDROP TABLE IF EXISTS `users`;\n/*!40101 SET @saved_cs_client     = @@character_set_client */;\n/*!50503 SET character_set_client = utf8mb4 */;\n")
	sb.WriteString("CREATE TABLE `users` (\n  `id` int unsigned NOT NULL AUTO_INCREMENT,\n  `email` varchar(191) NOT NULL,\n  `name` varchar(100) DEFAULT NULL,\n" +
		"  `password` varchar(255) NOT NULL,\n  `is_admin` tinyint(1) NOT NULL DEFAULT '0',\n  `created_at` timestamp NULL DEFAULT NULL,\n" +
		"  PRIMARY KEY (`id`),\n  UNIQUE KEY `users_email_unique` (`email`)\n) ENGINE=InnoDB AUTO_INCREMENT=")
	n := 4 + b.r.IntN(6)
	fmt.Fprintf(&sb, "%d DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_0900_ai_ci;\n/*!40101 SET character_set_client = @saved_cs_client */;\n\n", n+1)
	sb.WriteString("--\n-- Dumping data for table `users`\n--\n\nLOCK TABLES `users` WRITE;\n/*!40000 ALTER TABLE `users` DISABLE KEYS */;\nINSERT INTO `users` VALUES ")
	first := []string{"anna", "mark", "julia", "tom", "sara", "peter", "lisa", "david", "nina", "paul", "eva", "john"}
	last := []string{"miller", "schmidt", "novak", "rossi", "berg", "kowalski", "jensen", "meyer", "silva", "wagner"}
	for i := 1; i <= n; i++ {
		fn, ln := pick(b.r, first), pick(b.r, last)
		admin := 0
		if i == 1 {
			admin = 1
		}
		hash := "$2y$10$" + randString(b.r, "./"+mixedAlnum, 53)
		if i > 1 {
			sb.WriteString(",")
		}
		fmt.Fprintf(&sb, "(%d,'%s.%s@%s','%s %s','%s',%d,'%s')", i, fn, ln, b.domain, titleCase(fn), titleCase(ln), hash, admin,
			b.ago(60, 700).Format("2006-01-02 15:04:05"))
	}
	sb.WriteString(";\n/*!40000 ALTER TABLE `users` ENABLE KEYS */;\nUNLOCK TABLES;\n")
	sb.WriteString("/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;\n\n/*!40101 SET SQL_MODE=@OLD_SQL_MODE */;\n/*!40014 SET FOREIGN_KEY_CHECKS=@OLD_FOREIGN_KEY_CHECKS */;\n" +
		"/*!40014 SET UNIQUE_CHECKS=@OLD_UNIQUE_CHECKS */;\n/*!40101 SET CHARACTER_SET_CLIENT=@OLD_CHARACTER_SET_CLIENT */;\n" +
		"/*!40101 SET CHARACTER_SET_RESULTS=@OLD_CHARACTER_SET_RESULTS */;\n/*!40101 SET COLLATION_CONNECTION=@OLD_COLLATION_CONNECTION */;\n" +
		"/*!40111 SET SQL_NOTES=@OLD_SQL_NOTES */;\n\n")
	fmt.Fprintf(&sb, "-- Dump completed on %s\n", done.Format("2006-01-02 15:04:05"))
	return b.artifact(mysqlDumpPath, []byte(sb.String()), 0o640,
		"dump of "+db+" from "+b.dnsHost+"; fires when the host name is resolved"), nil
}

func titleCase(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
