package ftp

import (
	"fmt"
	"strings"
	"time"

	"github.com/decnet-go/decnet/internal/persona"
)

// flavor is the wording and habits of one FTP daemon. A field holding %s
// (or %d) takes the argument named in its comment.
type flavor struct {
	name string // "vsftpd" or "proftpd"

	needLogin     string // 530, before login
	unknown       string // 500; %s: the verb (ProFTPD names it)
	userOK        string // 331; %s: the user
	anonUserOK    string // 331 for ftp/anonymous when anonymous logins are on
	passOK        string // 230; %s: the user
	anonPassOK    string // 230
	loginFailed   string // 530
	passNoUser    string // 503
	alreadyIn     string // 230, PASS once logged in
	changeUser    string // 530, USER once logged in
	pwd           string // 257; %s: the quoted directory
	cwdOK         string // 250
	cdupOK        string // 250
	typeA, typeI  string // 200
	badType       string // 500/504; %s: the argument
	modeOK        string // 200
	badMode       string // 504
	struOK        string // 200
	badStru       string // 504
	pasv          string // 227; %s: h1,h2,h3,h4,p1,p2
	epsv          string // 229; %d: the port
	epsvAll       string // 200
	epsvProto     string // 522
	portOK        string // 200
	portBad       string // syntax error (code and text)
	portIllegal   string // bounce or privileged port refused
	eprtOK        string // 200
	eprtBad       string // syntax error
	eprtProto     string // unsupported network protocol
	eprtIllegal   string // bounce refused
	noData        string // 425, no PORT/PASV yet
	dataFailed    string // 425, data connection not made
	badIP         string // 425, passive connection from another host
	listStart     string // 150
	listDone      string // 226
	retrStart     string // 150; %s %s %d: mode, name, size
	xferDone      string // 226
	storStart     string // 150; %s %s: mode, name
	storFailed    string // 553/550
	storTooBig    string // 451/552, upload over the cap
	dataTimeout   string // 421
	dele          string // 250
	mkd           string // 257; %s: the quoted directory
	rmd           string // 250
	rnfr          string // 350
	rnto          string // 250
	rntoNoRnfr    string // 503
	sizeOK        string // 213 %d
	mdtmOK        string // 213 %s
	noop          string // 200
	goodbye       string // 221
	rest          string // 350; %d: the offset
	abor          string // 225/226
	optsUTF8      string // 200
	optsBad       string // 501
	allo          string // 202
	feat          []string
	helpStart     string   // 214-
	help          []string // between the first and last line
	helpEnd       string
	idleTimeout   string // 421
	lineTooLong   string // 500
	maxLoginFails int
	// anonUser is the account an anonymous session acts as and anonRoot
	// the directory it is locked into.
	anonUser, anonRoot string
	umask              uint32
	numericIDs         bool // ls shows uids (vsftpd) or names (ProFTPD)
	// A refused login waits failDelay, plus pamDelay randomised by up to
	// ±25 % as Linux-PAM's pam_fail_delay does.
	failDelay, pamDelay time.Duration
}

// fail is the 550 answer to a failed file command; ProFTPD names the path
// and the errno, vsftpd has one text per command.
func (f *flavor) fail(vsftpd, name, why string) string {
	if f.name == "proftpd" {
		return "550 " + name + ": " + why
	}
	return vsftpd
}

var vsftpd = flavor{
	name:      "vsftpd",
	needLogin: "530 Please login with USER and PASS.", unknown: "500 Unknown command.",
	userOK: "331 Please specify the password.", anonUserOK: "331 Please specify the password.",
	passOK: "230 Login successful.", anonPassOK: "230 Login successful.",
	loginFailed: "530 Login incorrect.", passNoUser: "503 Login with USER first.",
	alreadyIn: "230 Already logged in.", changeUser: "530 Can't change to another user.",
	pwd: "257 %s is the current directory", cwdOK: "250 Directory successfully changed.",
	cdupOK: "250 Directory successfully changed.",
	typeA:  "200 Switching to ASCII mode.", typeI: "200 Switching to Binary mode.", badType: "500 Unrecognised TYPE command.",
	modeOK: "200 Mode set to S.", badMode: "504 Bad MODE command.",
	struOK: "200 Structure set to F.", badStru: "504 Bad STRU command.",
	pasv: "227 Entering Passive Mode (%s).", epsv: "229 Entering Extended Passive Mode (|||%d|)",
	epsvAll: "200 EPSV ALL ok.", epsvProto: "522 Bad network protocol.",
	portOK: "200 PORT command successful. Consider using PASV.", portBad: "500 Illegal PORT command.",
	portIllegal: "500 Illegal PORT command.",
	eprtOK:      "200 EPRT command successful. Consider using EPSV.", eprtBad: "500 Bad EPRT command.",
	eprtProto: "500 Bad EPRT protocol.", eprtIllegal: "500 Illegal EPRT command.",
	noData: "425 Use PORT or PASV first.", dataFailed: "425 Failed to establish connection.",
	badIP:     "425 Security: Bad IP connecting.",
	listStart: "150 Here comes the directory listing.", listDone: "226 Directory send OK.",
	// vsftpd never converts downloads (ascii_download_enable=NO), so it
	// always says BINARY.
	retrStart: "150 Opening BINARY mode data connection for %[2]s (%[3]d bytes).", xferDone: "226 Transfer complete.",
	storStart: "150 Ok to send data.", storFailed: "553 Could not create file.",
	storTooBig: "451 Failure writing to local file.", dataTimeout: "421 Data timeout. Reconnect. Sorry.",
	dele: "250 Delete operation successful.", mkd: "257 %s created",
	rmd: "250 Remove directory operation successful.", rnfr: "350 Ready for RNTO.", rnto: "250 Rename successful.",
	rntoNoRnfr: "503 RNFR required first.", sizeOK: "213 %d", mdtmOK: "213 %s", noop: "200 NOOP ok.",
	goodbye: "221 Goodbye.", rest: "350 Restart position accepted (%d).", abor: "225 No transfer to ABOR.",
	optsUTF8: "200 Always in UTF8 mode.", optsBad: "501 Option not understood.", allo: "202 ALLO command ignored.",
	feat:      []string{"EPRT", "EPSV", "MDTM", "PASV", "REST STREAM", "SIZE", "TVFS"},
	helpStart: "214-The following commands are recognized.",
	help: []string{
		" ABOR ACCT ALLO APPE CDUP CWD  DELE EPRT EPSV FEAT HELP LIST MDTM MKD",
		" MODE NLST NOOP OPTS PASS PASV PORT PWD  QUIT REIN REST RETR RMD  RNFR",
		" RNTO SITE SIZE SMNT STAT STOR STOU STRU SYST TYPE USER XCUP XCWD XMKD",
		" XPWD XRMD",
	},
	helpEnd:     "214 Help OK.",
	idleTimeout: "421 Timeout.", lineTooLong: "500 Input line too long.",
	maxLoginFails: 3, anonUser: "ftp", anonRoot: "/srv/ftp",
	umask: 0o077, numericIDs: true,
	// delay_failed_login=1, then pam_unix's 2 s (Debian's common-auth).
	failDelay: time.Second, pamDelay: 2 * time.Second,
}

var proftpd = flavor{
	name:      "proftpd",
	needLogin: "530 Please login with USER and PASS", unknown: "500 %s not understood",
	userOK: "331 Password required for %s", anonUserOK: "331 Anonymous login ok, send your complete email address as your password",
	passOK: "230 User %s logged in", anonPassOK: "230 Anonymous access granted, restrictions apply",
	loginFailed: "530 Login incorrect.", passNoUser: "503 Login with USER first",
	alreadyIn: "503 You are already logged in", changeUser: "503 You are already logged in",
	pwd: "257 %s is the current directory", cwdOK: "250 CWD command successful", cdupOK: "250 CDUP command successful",
	typeA: "200 Type set to A", typeI: "200 Type set to I", badType: "504 TYPE not implemented for '%s' parameter",
	modeOK: "200 Mode set to S", badMode: "504 Unsupported transfer mode",
	struOK: "200 Structure set to F", badStru: "504 Unsupported structure type",
	pasv: "227 Entering Passive Mode (%s).", epsv: "229 Entering Extended Passive Mode (|||%d|)",
	epsvAll: "200 EPSV ALL command successful", epsvProto: "522 Network protocol not supported, use (1)",
	portOK: "200 PORT command successful", portBad: "501 Illegal PORT command", portIllegal: "500 Illegal PORT command",
	eprtOK: "200 EPRT command successful", eprtBad: "501 Illegal EPRT command",
	eprtProto: "522 Network protocol not supported, use (1)", eprtIllegal: "500 Illegal EPRT command",
	noData: "425 Unable to build data connection: Connection refused", dataFailed: "425 Unable to build data connection: Connection refused",
	badIP:     "425 Unable to build data connection: Operation not permitted",
	listStart: "150 Opening ASCII mode data connection for file list", listDone: "226 Transfer complete",
	retrStart: "150 Opening %s mode data connection for %s (%d bytes)", xferDone: "226 Transfer complete",
	storStart: "150 Opening %s mode data connection for %s", storFailed: "550 %s: Permission denied",
	storTooBig: "552 Transfer aborted. Disk quota exceeded", dataTimeout: "421 Data transfer timed out",
	dele: "250 DELE command successful", mkd: "257 %s - Directory successfully created",
	rmd: "250 RMD command successful", rnfr: "350 File or directory exists, ready for destination name",
	rnto: "250 Rename successful", rntoNoRnfr: "503 Bad sequence of commands", sizeOK: "213 %d", mdtmOK: "213 %s",
	noop: "200 NOOP command successful", goodbye: "221 Goodbye.",
	rest: "350 Restarting at %d. Send STORE or RETRIEVE to initiate transfer", abor: "226 Abort successful",
	optsUTF8: "200 UTF8 set to on", optsBad: "501 OPTS: unknown option", allo: "202 No storage allocation necessary",
	feat: []string{"UTF8", "LANG en-US*", "EPRT", "EPSV", "MDTM", "MFMT", "TVFS",
		"MFF modify;UNIX.group;UNIX.mode;", "MLST modify*;perm*;size*;type*;unique*;UNIX.group*;UNIX.groupname*;UNIX.mode*;UNIX.owner*;UNIX.ownername*;",
		"REST STREAM", "SIZE"},
	helpStart: "214-The following commands are recognized (* =>'s unimplemented):",
	help: []string{
		" CWD     XCWD    CDUP    XCUP    SMNT*   QUIT    PORT    PASV    ",
		" EPRT    EPSV    ALLO    RNFR    RNTO    DELE    MDTM    RMD     ",
		" XRMD    MKD     XMKD    PWD     XPWD    SIZE    SYST    HELP    ",
		" NOOP    FEAT    OPTS    HOST    CLNT    AUTH*   CCC*    CONF*   ",
		" ENC*    MIC*    PBSZ*   PROT*   TYPE    STRU    MODE    RETR    ",
		" STOR    STOU    APPE    REST    ABOR    RANG    USER    PASS    ",
		" ACCT*   REIN*   LIST    NLST    STAT    SITE    MLSD    MLST    ",
	},
	helpEnd:     "214 Direct comments to root@%s",
	idleTimeout: "421 Idle timeout (600 seconds): closing control connection", lineTooLong: "500 Command line too long",
	maxLoginFails: 3, anonUser: "ftp", anonRoot: "/srv/ftp",
	umask: 0o022, numericIDs: false,
	pamDelay: 2 * time.Second,
}

// versions of the FTP daemons each distro packages.
var versions = map[string]struct{ vsftpd, proftpd string }{
	"debian":   {"3.0.3", "1.3.8"},
	"debian11": {"3.0.3", "1.3.7a"},
	"ubuntu22": {"3.0.5", "1.3.7c"},
	"ubuntu20": {"3.0.3", "1.3.6c"},
	"rocky9":   {"3.0.5", "1.3.8b"},
	"centos7":  {"3.0.2", "1.3.5e"},
	"alpine":   {"3.0.5", "1.3.8b"},
	"fedora":   {"3.0.5", "1.3.8a"},
	"kali":     {"3.0.3", "1.3.8"},
	"arch":     {"3.0.5", "1.3.8b"},
}

// greeting is the text after "220 " of the flavor on p's distro; local is
// the decky's address as ProFTPD prints it.
func (f *flavor) greeting(p *persona.Persona, local string) string {
	v, ok := versions[p.Distro.Slug]
	if !ok {
		v = versions["debian"]
	}
	if f.name == "proftpd" {
		// ProFTPD shows its version in the greeting only before 1.3.6.
		if strings.HasPrefix(v.proftpd, "1.3.5") {
			return fmt.Sprintf("ProFTPD %s Server (%s) [%s]", v.proftpd, p.Hostname, local)
		}
		return fmt.Sprintf("ProFTPD Server (%s) [%s]", p.Hostname, local)
	}
	return "(vsFTPd " + v.vsftpd + ")"
}
