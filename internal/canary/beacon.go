package canary

import (
	"fmt"
	"html"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/decnet-go/decnet/internal/persona"
)

// The fingerprint generators: a page that, when a browser renders it,
// collects what the browser says about itself and sends it to the
// callback URL in the d= (or chunked s/i/n/d) form the listener validates.

func fingerprintHTMLPath(p *persona.Persona) string {
	return homeOf(p) + "/Documents/payroll-summary.html"
}
func fingerprintSVGPath(p *persona.Persona) string {
	return homeOf(p) + "/Documents/network-diagram.svg"
}

// mintNamespace is the UUID namespace of the beacon's mint (layer C): the
// page carries uuid5(namespace, slug), so a beacon forged for one token
// does not validate for another.
var mintNamespace = uuid.MustParse("a3f7c821-9d1e-4b6a-8c2d-1e4f9a7b3c5d")

// Mint is the mint a fingerprint beacon for slug must carry.
func Mint(slug string) string { return uuid.NewSHA1(mintNamespace, []byte(slug)).String() }

// beaconJS is the collector. @name@ marks a string that goes into the
// per-token encoded string table (so property names such as webdriver or
// WEBGL_debug_renderer_info and the callback URL do not appear in clear);
// @@ is never used. It is plain ES5 plus Promise so old browsers still
// send what they can: every section is collected under try/catch.
const beaconJS = `(function(){var T=[@TABLE@],K=@KEY@;function X(i){var h=T[i],o='',j;for(j=0;j<h.length;j+=2)o+=String.fromCharCode(parseInt(h.substr(j,2),16)^((K+j/2)&255));return o}
var W=window,N=W.navigator,D=document,R={};function G(f){try{return f()}catch(e){return null}}
function E(t){return D.createElementNS(@http://www.w3.org/1999/xhtml@,t)}
function H(s){var h=2166136261,i;for(i=0;i<s.length;i++){h^=s.charCodeAt(i);h=Math.imul(h,16777619)>>>0}return('0000000'+h.toString(16)).slice(-8)}
R.k=@NONCE@;R.mint=@MINT@;
R.nav=G(function(){return{ua:N[@userAgent@],pl:N[@platform@],lang:N[@language@],langs:(N[@languages@]||[]).slice(0,8),wd:!!N[@webdriver@],hc:N[@hardwareConcurrency@]||0,dm:N[@deviceMemory@]||0,tp:N[@maxTouchPoints@]||0}});
R.scr=G(function(){var s=W.screen;return{w:s.width,h:s.height,aw:s.availWidth,ah:s.availHeight,cd:s.colorDepth,pr:W.devicePixelRatio||1}});
R.tz=G(function(){return{n:Intl.DateTimeFormat()[@resolvedOptions@]()[@timeZone@],o:new Date()[@getTimezoneOffset@]()}});
R.cv=G(function(){var c=E(@canvas@),x;c.width=240;c.height=60;x=c[@getContext@](@2d@);x.textBaseline='top';x.font='14px Arial';x.fillStyle='#f60';x.fillRect(100,1,62,20);x.fillStyle='#069';x.fillText(@PANGRAM@,2,15);x.fillStyle='rgba(102,204,0,0.7)';x.fillText(@PANGRAM@,4,17);return{h:H(c[@toDataURL@]())}});
R.gl=G(function(){var c=E(@canvas@),g=c[@getContext@](@webgl@)||c[@getContext@](@experimental-webgl@),e;if(!g)return null;e=g.getExtension(@WEBGL_debug_renderer_info@);return{v:g.getParameter(e?e[@UNMASKED_VENDOR_WEBGL@]:g.VENDOR),r:g.getParameter(e?e[@UNMASKED_RENDERER_WEBGL@]:g.RENDERER)}});
R.ft=G(function(){var x=E(@canvas@)[@getContext@](@2d@),f=@FONTS@.split(','),o=[],b=['monospace','sans-serif','serif'],w=[],i,j,t='mmmmmmmmmmlli';for(j=0;j<3;j++){x.font='72px '+b[j];w[j]=x.measureText(t).width}for(i=0;i<f.length;i++)for(j=0;j<3;j++){x.font="72px '"+f[i]+"',"+b[j];if(x.measureText(t).width!==w[j]){o.push(f[i]);break}}return o});
function AU(){return new Promise(function(ok){var t=setTimeout(function(){ok(null)},1000);try{var A=W[@OfflineAudioContext@]||W[@webkitOfflineAudioContext@],c,o,m;if(!A){clearTimeout(t);return ok(null)}c=new A(1,5000,44100);o=c.createOscillator();m=c.createDynamicsCompressor();o.type='triangle';o.frequency.value=10000;o.connect(m);m.connect(c.destination);o.start(0);c.startRendering().then(function(b){var d=b.getChannelData(0),s=0,i;for(i=4500;i<5000;i++)s+=Math.abs(d[i]);clearTimeout(t);ok({s:String(s).slice(0,16)})},function(){clearTimeout(t);ok(null)})}catch(e){clearTimeout(t);ok(null)}})}
function RT(){return new Promise(function(ok){var P=W[@RTCPeerConnection@]||W[@webkitRTCPeerConnection@],c=[],pc,d=0;function F(){if(d)return;d=1;try{pc&&pc.close()}catch(e){}ok({c:c})}if(!P)return ok(null);setTimeout(F,1200);try{pc=new P({iceServers:[]});pc[@createDataChannel@]('');pc[@onicecandidate@]=function(e){if(!e.candidate){F();return}var p=(e.candidate.candidate||'').split(' ');if(p.length>4&&c.indexOf(p[4])<0&&c.length<16)c.push(p[4])};pc[@createOffer@]().then(function(o){return pc[@setLocalDescription@](o)}).catch(F)}catch(e){F()}})}
function S(q){var i=new Image();i.src=@URL@+'?'+q;(W[@IMGS@]=W[@IMGS@]||[]).push(i)}
Promise.all([AU(),RT()]).then(function(v){R.au=v[0];R.rtc=v[1];var j=JSON.stringify(R),b=btoa(unescape(encodeURIComponent(j))).replace(/\+/g,'-').replace(/\//g,'_').replace(/=+$/,''),L=6000,n,s,i;if(b.length<=L){S('d='+b);return}n=Math.min(16,Math.ceil(b.length/L));s=Math.random().toString(36).slice(2,12);for(i=0;i<n;i++)S('s='+s+'&i='+i+'&n='+n+'&d='+b.substr(i*L,L))})})();`

var beaconFonts = "Arial,Calibri,Cambria,Segoe UI,Tahoma,Consolas,Courier New,Helvetica Neue,Menlo,Monaco,SF Pro Text,Ubuntu,DejaVu Sans,Liberation Sans,Noto Sans,Cantarell,Roboto"

var beaconMark = regexp.MustCompile(`@[^@\n]+@`)

// beaconScript renders the collector for one token: its strings go into a
// table in a token-specific order, XORed with a token-specific key, so no
// two plants carry the same script text.
func beaconScript(r *rand.Rand, url, nonce, mint string) string {
	values := map[string]string{"@URL@": url, "@NONCE@": nonce, "@MINT@": mint, "@FONTS@": beaconFonts,
		"@PANGRAM@": "Cwm fjordbank glyphs vext quiz, 0.7", "@IMGS@": "_" + randString(r, "abcdefghijklmnopqrstuvwxyz", 6)}
	var names []string
	seen := map[string]bool{}
	for _, m := range beaconMark.FindAllString(beaconJS, -1) {
		if m == "@TABLE@" || m == "@KEY@" || seen[m] {
			continue
		}
		seen[m] = true
		names = append(names, m)
	}
	order := r.Perm(len(names))
	key := 1 + r.IntN(254)
	table := make([]string, len(names))
	index := map[string]int{}
	for i, slot := range order {
		name := names[i]
		v, ok := values[name]
		if !ok {
			v = strings.Trim(name, "@")
		}
		index[name] = slot
		table[slot] = "'" + xorHex(v, key) + "'"
	}
	return beaconMark.ReplaceAllStringFunc(beaconJS, func(m string) string {
		switch m {
		case "@TABLE@":
			return strings.Join(table, ",")
		case "@KEY@":
			return strconv.Itoa(key)
		}
		return "X(" + strconv.Itoa(index[m]) + ")"
	})
}

// xorHex encodes s (as UTF-16 code units below 256, else '?') for X().
func xorHex(s string, key int) string {
	var sb strings.Builder
	i := 0
	for _, c := range s {
		if c > 0xff {
			c = '?' // X() decodes one byte per character
		}
		fmt.Fprintf(&sb, "%02x", byte(int(c)^((key+i)&255)))
		i++
	}
	return sb.String()
}

func makeFingerprintHTML(p Params) (Artifact, error) {
	b, err := newBait(p, "fingerprint_html", KindHTTP)
	if err != nil {
		return Artifact{}, err
	}
	if p.Token.FingerprintNonce == "" {
		return Artifact{}, fmt.Errorf("fingerprint_html: token has no fingerprint nonce")
	}
	period := b.ago(20, 120)
	var sb strings.Builder
	sb.WriteString("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
	fmt.Fprintf(&sb, "<title>Payroll summary %s</title>\n", period.Format("January 2006"))
	sb.WriteString("<style>body{font-family:Arial,Helvetica,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;min-width:40em}td,th{border-bottom:1px solid #ccc;padding:4px 10px;text-align:left}td.n{text-align:right}h1{font-size:1.4em}</style>\n</head>\n<body>\n")
	fmt.Fprintf(&sb, "<h1>Payroll summary &ndash; %s</h1>\n<p>Prepared by %s on %s. Internal use only.</p>\n<table>\n<tr><th>Employee</th><th>Department</th><th>Gross</th><th>Net</th><th>IBAN</th></tr>\n",
		period.Format("January 2006"), html.EscapeString(b.user), period.AddDate(0, 0, 25).Format("2006-01-02"))
	first := []string{"Anna", "Mark", "Julia", "Tom", "Sara", "Peter", "Lisa", "David", "Nina", "Paul"}
	last := []string{"Miller", "Schmidt", "Novak", "Rossi", "Berg", "Kowalski", "Jensen", "Meyer"}
	deps := []string{"Finance", "Engineering", "Sales", "Operations", "Support"}
	for i, n := 0, 6+b.r.IntN(6); i < n; i++ {
		gross := 3200 + b.r.IntN(6800)
		fmt.Fprintf(&sb, "<tr><td>%s %s</td><td>%s</td><td class=\"n\">%d.00</td><td class=\"n\">%d.%02d</td><td>DE%02d %04d %04d %04d %04d %02d</td></tr>\n",
			pick(b.r, first), pick(b.r, last), pick(b.r, deps), gross, gross*62/100, b.r.IntN(100),
			10+b.r.IntN(89), b.r.IntN(10000), b.r.IntN(10000), b.r.IntN(10000), b.r.IntN(10000), b.r.IntN(100))
	}
	sb.WriteString("</table>\n")
	// Without JavaScript the open beacon still fires.
	fmt.Fprintf(&sb, "<noscript><img src=\"%s?o=1\" width=\"1\" height=\"1\" alt=\"\"></noscript>\n", html.EscapeString(b.url))
	sb.WriteString("<script>\n" + beaconScript(b.r, b.url, p.Token.FingerprintNonce, Mint(p.Token.Slug)) + "\n</script>\n</body>\n</html>\n")
	return b.artifact(fingerprintHTMLPath, []byte(sb.String()), 0o644,
		"HTML report with a fingerprint beacon; fires when opened in a browser, then revokes itself after the first valid fingerprint"), nil
}

func makeFingerprintSVG(p Params) (Artifact, error) {
	b, err := newBait(p, "fingerprint_svg", KindHTTP)
	if err != nil {
		return Artifact{}, err
	}
	if p.Token.FingerprintNonce == "" {
		return Artifact{}, fmt.Errorf("fingerprint_svg: token has no fingerprint nonce")
	}
	var sb strings.Builder
	sb.WriteString("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n")
	sb.WriteString("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"820\" height=\"420\" viewBox=\"0 0 820 420\" font-family=\"Arial, sans-serif\" font-size=\"13\">\n")
	fmt.Fprintf(&sb, "<title>Network diagram %s</title>\n<rect width=\"820\" height=\"420\" fill=\"#fff\"/>\n", html.EscapeString(b.domain))
	nodes := []string{"Internet", "fw-01", "core-sw", b.host, "db-" + fmt.Sprintf("%02d", 1+b.r.IntN(9)), "backup-nas", "vpn-gw"}
	for i, n := range nodes {
		x, y := 40+(i%4)*200, 60+(i/4)*200
		subnet := fmt.Sprintf("10.%d.%d.%d", b.r.IntN(50), b.r.IntN(255), 1+b.r.IntN(250))
		fmt.Fprintf(&sb, "<g><rect x=\"%d\" y=\"%d\" width=\"140\" height=\"60\" rx=\"6\" fill=\"#e8f0fe\" stroke=\"#3367d6\"/><text x=\"%d\" y=\"%d\">%s</text><text x=\"%d\" y=\"%d\" fill=\"#555\">%s</text></g>\n",
			x, y, x+10, y+25, html.EscapeString(n), x+10, y+45, subnet)
		if i > 0 {
			fmt.Fprintf(&sb, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#999\"/>\n", 110+((i-1)%4)*200, 120+((i-1)/4)*200, x+70, y)
		}
	}
	sb.WriteString("<script type=\"application/ecmascript\"><![CDATA[\n" + beaconScript(b.r, b.url, p.Token.FingerprintNonce, Mint(p.Token.Slug)) + "\n]]></script>\n</svg>\n")
	return b.artifact(fingerprintSVGPath, []byte(sb.String()), 0o644,
		"SVG diagram with a fingerprint beacon; fires when opened in a browser, then revokes itself after the first valid fingerprint"), nil
}
