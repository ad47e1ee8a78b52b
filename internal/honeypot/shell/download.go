package shell

import (
	"errors"
	"fmt"
	"net/netip"
	"path"
	"strconv"
	"strings"
)

// Download is a download tool's request, as Config.OnDownload sees it.
type Download struct {
	URL  string // as typed, with http:// added when the tool would add it
	Tool string // wget, curl or tftp
	Cwd  string // the shell's working directory
}

// Fetched is what a server answered to a Download.
type Fetched struct {
	Status      int    // HTTP status code
	Reason      string // "OK", "Not Found"; http.StatusText of Status when empty
	ContentType string
	Body        []byte // what the tool saves or prints (at most the operator's cap)
	RemoteIP    string // the address the name resolved to and was connected to
}

// errNoRoute is the failure of a download without OnDownload.
var errNoRoute = errors.New("no route")

// download reports a request and fetches it when the transport allows.
func (s *Shell) download(tool, target string) (Fetched, error) {
	if s.cfg.OnDownload == nil {
		return Fetched{}, errNoRoute
	}
	return s.cfg.OnDownload(Download{URL: target, Tool: tool, Cwd: s.cwd})
}

// withScheme is raw as wget and curl read it: http:// when no scheme is given.
func withScheme(raw string) string {
	if !strings.Contains(raw, "://") {
		return "http://" + raw
	}
	return raw
}

// flagValue is the value of the first of the given flags ("-O", "--output-document"),
// as "-Ofile", "-O file" or "--output-document=file".
func flagValue(args []string, names ...string) (string, bool) {
	for i := 1; i < len(args); i++ {
		a := args[i]
		for _, n := range names {
			switch {
			case a == n && i+1 < len(args):
				return args[i+1], true
			case strings.HasPrefix(n, "--") && strings.HasPrefix(a, n+"="):
				return a[len(n)+1:], true
			case !strings.HasPrefix(n, "--") && strings.HasPrefix(a, n) && len(a) > len(n) && !strings.HasPrefix(a, "--"):
				return a[len(n):], true
			}
		}
	}
	return "", false
}

// remoteName is the file name a tool saves a URL under.
func remoteName(u, dflt string) string {
	rest := u
	if i := strings.Index(rest, "://"); i >= 0 {
		rest = rest[i+3:]
	}
	rest, _, _ = strings.Cut(rest, "?")
	rest, _, _ = strings.Cut(rest, "#")
	_, p, found := strings.Cut(rest, "/")
	if !found || p == "" || strings.HasSuffix(p, "/") {
		return dflt
	}
	return path.Base(p)
}

func reasonOf(f Fetched) string {
	if f.Reason != "" {
		return f.Reason
	}
	if r, ok := httpReasons[f.Status]; ok {
		return r
	}
	return "Unknown"
}

var httpReasons = map[int]string{
	200: "OK", 201: "Created", 204: "No Content", 301: "Moved Permanently", 302: "Found", 304: "Not Modified",
	400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
	500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
}

// quote quotes a name as GNU tools do: curly quotes in a UTF-8 locale,
// straight ones otherwise.
func (s *Shell) quote(name string) string {
	l := strings.ToLower(s.vars["LANG"] + s.vars["LC_ALL"])
	if strings.Contains(l, "utf-8") || strings.Contains(l, "utf8") {
		return "‘" + name + "’"
	}
	return "'" + name + "'"
}

// wgetSize is the "(1.2K)" wget prints after a length of 1 KiB or more.
func wgetSize(n int) string {
	if n < 1024 {
		return ""
	}
	v, u := float64(n)/1024, "K"
	if v >= 1024 {
		v, u = v/1024, "M"
	}
	if v < 10 {
		return fmt.Sprintf(" (%.1f%s)", v, u)
	}
	return fmt.Sprintf(" (%.0f%s)", v, u)
}

func cmdWget(s *Shell, args []string, _ string) result {
	target, flags := fetchTarget(args, "OoPUTtwea")
	if target == "" {
		return result{err: "wget: missing URL\nUsage: wget [OPTION]... [URL]...\n\nTry `wget --help' for more options.\n", status: 1}
	}
	host, port, scheme := parseTarget(target)
	if host == "" {
		return result{err: target + ": Invalid host name.\n", status: 1}
	}
	if scheme != "http" && scheme != "https" && scheme != "ftp" {
		return result{err: target + ": Unsupported scheme " + s.quote(scheme) + ".\n", status: 1}
	}
	u := withScheme(target)
	quiet := flags["q"] || flags["--quiet"]
	stamp := s.cfg.Now().Format("2006-01-02 15:04:05")
	var msg strings.Builder
	msg.WriteString("--" + stamp + "--  " + u + "\n")
	_, ipErr := netip.ParseAddr(host)
	isIP := ipErr == nil
	f, err := s.download("wget", u)
	if err != nil {
		if isIP {
			msg.WriteString("Connecting to " + host + ":" + port + "... failed: Connection refused.\n")
		} else {
			msg.WriteString("Resolving " + host + " (" + host + ")... failed: Temporary failure in name resolution.\n" +
				"wget: unable to resolve host address " + s.quote(host) + "\n")
		}
		if quiet {
			return result{status: 4}
		}
		return result{err: msg.String(), status: 4}
	}
	if isIP {
		msg.WriteString("Connecting to " + host + ":" + port + "... connected.\n")
	} else {
		ip := f.RemoteIP
		if ip == "" {
			ip = host
		}
		msg.WriteString("Resolving " + host + " (" + host + ")... " + ip + "\n")
		msg.WriteString("Connecting to " + host + " (" + host + ")|" + ip + "|:" + port + "... connected.\n")
	}
	proto := "HTTP"
	if scheme == "ftp" {
		proto = "FTP"
	}
	msg.WriteString(proto + " request sent, awaiting response... " + strconv.Itoa(f.Status) + " " + reasonOf(f) + "\n")
	if f.Status < 200 || f.Status > 299 {
		msg.WriteString(stamp + " ERROR " + strconv.Itoa(f.Status) + ": " + reasonOf(f) + ".\n\n")
		if quiet {
			return result{status: 8}
		}
		return result{err: msg.String(), status: 8}
	}
	ct := f.ContentType
	if ct == "" {
		ct = "text/plain"
	}
	n := len(f.Body)
	msg.WriteString("Length: " + strconv.Itoa(n) + wgetSize(n) + " [" + ct + "]\n")
	dest, toFile := flagValue(args, "-O", "--output-document")
	var res result
	if toFile && dest == "-" {
		res.out = string(f.Body)
		msg.WriteString("Saving to: " + s.quote("STDOUT") + "\n\n")
	} else {
		if !toFile {
			dest = remoteName(u, "index.html")
			if dir, ok := flagValue(args, "-P", "--directory-prefix"); ok {
				dest = path.Join(dir, dest)
			}
			// wget never overwrites: a second copy is name.1, name.2, …
			if _, exists := s.fs.get(s.abs(dest)); exists {
				for i := 1; ; i++ {
					if _, exists := s.fs.get(s.abs(dest + "." + strconv.Itoa(i))); !exists {
						dest += "." + strconv.Itoa(i)
						break
					}
				}
			}
		}
		if e := s.writeFile(dest, string(f.Body), false); e != "" {
			msg.WriteString(dest + ": " + e + "\n")
			if quiet {
				return result{status: 3}
			}
			return result{err: msg.String(), status: 3}
		}
		msg.WriteString("Saving to: " + s.quote(dest) + "\n\n")
	}
	base := path.Base(dest)
	if toFile && dest == "-" {
		base = "-"
	}
	if s.cfg.TTY {
		fmt.Fprintf(&msg, "%-20s100%%[===================>] %7s  --.-KB/s    in 0s      \n\n", base, humanBytes(n))
	} else {
		fmt.Fprintf(&msg, "     0K %s 100%% %s=0s\n\n", strings.Repeat(" ", 50), "4.17M")
	}
	saved := s.quote(dest) + " saved"
	if toFile && dest == "-" {
		saved = "written to stdout"
	}
	fmt.Fprintf(&msg, "%s (4.17 MB/s) - %s [%d/%d]\n\n", stamp, saved, n, n)
	if !quiet {
		res.err = msg.String()
	}
	return res
}

// humanBytes is wget's size column: bytes, then K and M with one decimal.
func humanBytes(n int) string {
	switch {
	case n < 1024:
		return strconv.Itoa(n)
	case n < 1024*1024:
		return fmt.Sprintf("%.2fK", float64(n)/1024)
	}
	return fmt.Sprintf("%.2fM", float64(n)/1024/1024)
}

func cmdCurl(s *Shell, args []string, _ string) result {
	target, flags := fetchTarget(args, "oXdHAeuTwmxrEKbcCyYz")
	if target == "" {
		return result{err: "curl: try 'curl --help' or 'curl --manual' for more information\n", status: 2}
	}
	host, port, scheme := parseTarget(target)
	if host == "" {
		return result{err: "curl: (3) URL rejected: No host part in the URL\n", status: 3}
	}
	quiet := (flags["s"] || flags["--silent"]) && !flags["S"] && !flags["--show-error"]
	silent := flags["s"] || flags["--silent"]
	if scheme != "http" && scheme != "https" && scheme != "ftp" && scheme != "tftp" {
		r := result{err: "curl: (1) Protocol \"" + scheme + "\" not supported\n", status: 1}
		if quiet {
			r.err = ""
		}
		return r
	}
	f, err := s.download("curl", withScheme(target))
	if err != nil {
		var r result
		if _, e := netip.ParseAddr(host); e == nil {
			r = result{err: "curl: (7) Failed to connect to " + host + " port " + port + " after 0 ms: Couldn't connect to server\n", status: 7}
		} else {
			r = result{err: "curl: (6) Could not resolve host: " + host + "\n", status: 6}
		}
		if quiet {
			r.err = ""
		}
		return r
	}
	if (flags["f"] || flags["--fail"]) && f.Status >= 400 {
		r := result{err: "curl: (22) The requested URL returned error: " + strconv.Itoa(f.Status) + "\n", status: 22}
		if quiet {
			r.err = ""
		}
		return r
	}
	dest, toFile := flagValue(args, "-o", "--output")
	if !toFile && (flags["O"] || flags["--remote-name"]) {
		dest, toFile = remoteName(target, ""), true
		if dest == "" {
			return result{err: "curl: (23) Failed writing body\n", status: 23}
		}
	}
	if !toFile || dest == "-" {
		return result{out: string(f.Body)}
	}
	var res result
	n := len(f.Body)
	if !silent {
		res.err = "  % Total    % Received % Xferd  Average Speed   Time    Time     Time  Current\n" +
			"                                 Dload  Upload   Total   Spent    Left  Speed\n" +
			fmt.Sprintf("100 %5s  100 %5s    0     0   %5s      0 --:--:-- --:--:-- --:--:-- %5s\n",
				curlSize(n), curlSize(n), "4270k", "4270k")
	}
	if e := s.writeFile(dest, string(f.Body), false); e != "" {
		res.err += "curl: (23) Failure writing output to destination\n"
		if quiet {
			res.err = ""
		}
		res.status = 23
	}
	return res
}

// curlSize is the size column of curl's progress meter.
func curlSize(n int) string {
	switch {
	case n < 100000:
		return strconv.Itoa(n)
	case n < 1024*1024*10:
		return strconv.Itoa(n/1024) + "k"
	}
	return strconv.Itoa(n/1024/1024) + "M"
}

// cmdTftp is not installed on the persona's server distributions, as on
// the real ones; the request a bot made (busybox "tftp -g -r FILE HOST" or
// tftp-hpa "tftp HOST -c get FILE") is still reported.
func cmdTftp(s *Shell, args []string, _ string) result {
	var host, file string
	for i := 1; i < len(args); i++ {
		a := args[i]
		switch {
		case (a == "-r" || a == "-l") && i+1 < len(args):
			if a == "-r" {
				file = args[i+1]
			}
			i++
		case a == "-c" && i+2 < len(args):
			file = args[i+2]
			i += 2
		case strings.HasPrefix(a, "-"):
		case host == "":
			host = a
		}
	}
	if host != "" {
		s.download("tftp", "tftp://"+host+"/"+strings.TrimPrefix(file, "/"))
	}
	return result{err: s.errPrefix() + "tftp: command not found\n", status: 127}
}
