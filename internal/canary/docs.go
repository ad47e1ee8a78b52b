package canary

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html"
	"strings"
	"time"

	"github.com/decnet-go/decnet/internal/persona"
)

// The honeydocs: documents worth stealing ("passwords", "VPN") that fetch
// the callback URL when opened.

func honeydocPath(p *persona.Persona) string {
	name := "passwords.html"
	if p != nil {
		name = pick(p.Rand("canary-honeydoc"), []string{"passwords.html", "vpn-access.html", "it-accounts.html"})
	}
	return homeOf(p) + "/Documents/" + name
}

func docxPath(p *persona.Persona) string { return homeOf(p) + "/Documents/VPN-Setup.docx" }
func pdfPath(p *persona.Persona) string  { return homeOf(p) + "/Documents/network-credentials.pdf" }

// credRow is one line of a bait credential sheet.
type credRow struct{ System, User, Password string }

// credRows draws the sheet's accounts; they agree with the persona's host.
func (b *bait) credRows() []credRow {
	rows := []credRow{
		{"VPN (" + pick(b.r, []string{"OpenVPN", "FortiClient", "WireGuard", "GlobalProtect"}) + ")", b.user, weakish(b)},
		{"Firewall admin", "admin", weakish(b)},
		{b.host + " (ssh)", b.user, weakish(b)},
		{"vCenter", "administrator@vsphere.local", weakish(b)},
		{"Backup NAS", "backup", weakish(b)},
	}
	if b.r.IntN(2) == 0 {
		rows = append(rows, credRow{"Grafana", "admin", weakish(b)})
	}
	return rows
}

// weakish is a password a person would pick: a word, a number, a symbol.
func weakish(b *bait) string {
	w := pick(b.r, []string{"Summer", "Winter", "Welcome", "Company", "Spring", "Autumn", "Office", "Server", "Admin"})
	return fmt.Sprintf("%s%d%s", w, 2019+b.r.IntN(7), pick(b.r, []string{"!", "#", "$", "", "!!"}))
}

func makeHoneydoc(p Params) (Artifact, error) {
	b, err := newBait(p, "honeydoc", KindHTTP)
	if err != nil {
		return Artifact{}, err
	}
	when := b.ago(10, 200)
	var sb strings.Builder
	sb.WriteString("<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n<title>Access list</title>\n")
	sb.WriteString("<style>body{font-family:Calibri,Arial,sans-serif;font-size:11pt}table{border-collapse:collapse}td,th{border:1px solid #999;padding:3px 8px}th{background:#dde}</style>\n")
	sb.WriteString("</head>\n<body>\n<h2>Access list &ndash; do not share</h2>\n")
	fmt.Fprintf(&sb, "<p>Last updated %s by %s</p>\n<table>\n<tr><th>System</th><th>User</th><th>Password</th></tr>\n",
		when.Format("02.01.2006"), html.EscapeString(b.user))
	for _, r := range b.credRows() {
		fmt.Fprintf(&sb, "<tr><td>%s</td><td>%s</td><td>%s</td></tr>\n", html.EscapeString(r.System), html.EscapeString(r.User), html.EscapeString(r.Password))
	}
	sb.WriteString("</table>\n")
	// The "logo" is the open beacon: any browser or mail client that
	// renders the page fetches it.
	fmt.Fprintf(&sb, "<p><img src=\"%s?o=1\" width=\"1\" height=\"1\" alt=\"\"></p>\n</body>\n</html>\n", html.EscapeString(b.url))
	return b.artifact(honeydocPath, []byte(sb.String()), 0o644, "HTML access list; fires when opened in a browser"), nil
}

// makeDocx builds a real Office Open XML document with an externally
// linked 1x1 image (a TargetMode="External" relationship): Word and
// LibreOffice fetch it when the document is opened.
func makeDocx(p Params) (Artifact, error) {
	b, err := newBait(p, "honeydoc_docx", KindHTTP)
	if err != nil {
		return Artifact{}, err
	}
	created := b.ago(30, 300)
	modified := created.Add(time.Duration(1+b.r.IntN(20*24)) * time.Hour)
	if modified.After(b.anchor) {
		modified = created
	}
	rows := b.credRows()
	vpnHost := "vpn." + b.domain

	esc := func(s string) string {
		var buf bytes.Buffer
		_ = xmlEscape(&buf, s)
		return buf.String()
	}
	para := func(text string, bold bool) string {
		rpr := ""
		if bold {
			rpr = "<w:rPr><w:b/></w:rPr>"
		}
		return "<w:p><w:r>" + rpr + "<w:t xml:space=\"preserve\">" + esc(text) + "</w:t></w:r></w:p>"
	}
	var body strings.Builder
	body.WriteString(para("VPN setup for remote staff", true))
	body.WriteString(para("Install the client, import the profile and log in with the account below. Gateway: "+vpnHost, false))
	for _, r := range rows {
		body.WriteString(para(r.System+": "+r.User+" / "+r.Password, false))
	}
	body.WriteString(para("Questions: "+b.user+"@"+b.domain, false))
	body.WriteString(`<w:p><w:r><w:drawing><wp:inline distT="0" distB="0" distL="0" distR="0"><wp:extent cx="9525" cy="9525"/><wp:docPr id="1" name="Picture 1"/>` +
		`<a:graphic xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"><a:graphicData uri="http://schemas.openxmlformats.org/drawingml/2006/picture">` +
		`<pic:pic xmlns:pic="http://schemas.openxmlformats.org/drawingml/2006/picture"><pic:nvPicPr><pic:cNvPr id="0" name="logo.gif"/><pic:cNvPicPr/></pic:nvPicPr>` +
		`<pic:blipFill><a:blip r:link="rId1"/><a:stretch><a:fillRect/></a:stretch></pic:blipFill>` +
		`<pic:spPr><a:xfrm><a:off x="0" y="0"/><a:ext cx="9525" cy="9525"/></a:xfrm><a:prstGeom prst="rect"><a:avLst/></a:prstGeom></pic:spPr></pic:pic>` +
		`</a:graphicData></a:graphic></wp:inline></w:drawing></w:r></w:p>`)

	const hdr = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` + "\r\n"
	parts := []struct{ name, data string }{
		{"[Content_Types].xml", hdr + `<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">` +
			`<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>` +
			`<Default Extension="xml" ContentType="application/xml"/>` +
			`<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>` +
			`<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>` +
			`<Override PartName="/docProps/app.xml" ContentType="application/vnd.openxmlformats-officedocument.extended-properties+xml"/></Types>`},
		{"_rels/.rels", hdr + `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">` +
			`<Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/extended-properties" Target="docProps/app.xml"/>` +
			`<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/>` +
			`<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>`},
		{"docProps/app.xml", hdr + `<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties" xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes">` +
			`<Template>Normal.dotm</Template><TotalTime>` + fmt.Sprint(3+b.r.IntN(40)) + `</TotalTime><Pages>1</Pages><Application>Microsoft Office Word</Application>` +
			`<DocSecurity>0</DocSecurity><Company>` + esc(titleCase(strings.SplitN(b.domain, ".", 2)[0])) + `</Company><AppVersion>16.0000</AppVersion></Properties>`},
		{"docProps/core.xml", hdr + `<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" ` +
			`xmlns:dcterms="http://purl.org/dc/terms/" xmlns:dcmitype="http://purl.org/dc/dcmitype/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">` +
			`<dc:title>VPN setup</dc:title><dc:creator>` + esc(b.user) + `</dc:creator><cp:lastModifiedBy>` + esc(b.user) + `</cp:lastModifiedBy><cp:revision>` + fmt.Sprint(2+b.r.IntN(9)) + `</cp:revision>` +
			`<dcterms:created xsi:type="dcterms:W3CDTF">` + created.Format("2006-01-02T15:04:05Z") + `</dcterms:created>` +
			`<dcterms:modified xsi:type="dcterms:W3CDTF">` + modified.Format("2006-01-02T15:04:05Z") + `</dcterms:modified></cp:coreProperties>`},
		{"word/_rels/document.xml.rels", hdr + `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">` +
			`<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/image" Target="` + esc(b.url) + `" TargetMode="External"/></Relationships>`},
		{"word/document.xml", hdr + `<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" ` +
			`xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" ` +
			`xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing"><w:body>` + body.String() +
			`<w:sectPr><w:pgSz w:w="11906" w:h="16838"/><w:pgMar w:top="1440" w:right="1440" w:bottom="1440" w:left="1440" w:header="708" w:footer="708" w:gutter="0"/></w:sectPr></w:body></w:document>`},
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, part := range parts {
		// A fixed timestamp per document keeps the archive byte-identical.
		w, err := zw.CreateHeader(&zip.FileHeader{Name: part.name, Method: zip.Deflate, Modified: modified})
		if err != nil {
			return Artifact{}, fmt.Errorf("honeydoc_docx: %w", err)
		}
		if _, err := w.Write([]byte(part.data)); err != nil {
			return Artifact{}, fmt.Errorf("honeydoc_docx: %w", err)
		}
	}
	if err := zw.Close(); err != nil {
		return Artifact{}, fmt.Errorf("honeydoc_docx: %w", err)
	}
	return b.artifact(docxPath, buf.Bytes(), 0o644, "Word document with a linked image; fires when opened in Word or LibreOffice"), nil
}

func xmlEscape(buf *bytes.Buffer, s string) error {
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;")
	_, err := r.WriteString(buf, s)
	return err
}

// domainOf is the host's domain (everything after the first label), ""
// when the host name has none.
func domainOf(fqdn string) string {
	if _, d, ok := strings.Cut(fqdn, "."); ok && strings.Contains(d, ".") {
		return d
	}
	return ""
}

// makePDF writes a one-page PDF 1.4 with the credential sheet, an
// /OpenAction URI action (readers that honour it fetch the URL on open)
// and a page-size link annotation to the same URL (a click anywhere).
func makePDF(p Params) (Artifact, error) {
	b, err := newBait(p, "honeydoc_pdf", KindHTTP)
	if err != nil {
		return Artifact{}, err
	}
	created := b.ago(20, 250)
	var content strings.Builder
	content.WriteString("BT\n/F1 16 Tf\n72 740 Td\n(Network credentials) Tj\n/F1 10 Tf\n0 -18 Td\n")
	fmt.Fprintf(&content, "(%s) Tj\n", pdfEsc("Confidential - "+b.fqdn+" - "+created.Format("January 2006")))
	content.WriteString("/F1 11 Tf\n0 -30 Td\n")
	for _, r := range b.credRows() {
		fmt.Fprintf(&content, "(%s) Tj\n0 -16 Td\n", pdfEsc(r.System+":  "+r.User+"  /  "+r.Password))
	}
	content.WriteString("0 -20 Td\n/F1 9 Tf\n(Full list and VPN profiles: see the link on this page.) Tj\nET\n")
	stream := content.String()
	date := "D:" + created.Format("20060102150405") + "Z"
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R /OpenAction 5 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> >> /Contents 6 0 R /Annots [7 0 R] >>",
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
		"<< /Type /Action /S /URI /URI (" + pdfEsc(b.url) + ") >>",
		fmt.Sprintf("<< /Length %d >>\nstream\n%sendstream", len(stream), stream),
		"<< /Type /Annot /Subtype /Link /Rect [0 0 612 792] /Border [0 0 0] /A 5 0 R >>",
		"<< /Title (Network credentials) /Author (" + pdfEsc(b.user) + ") /Creator (Writer) /Producer (LibreOffice 7.4) /CreationDate (" + date + ") /ModDate (" + date + ") >>",
	}
	var out bytes.Buffer
	out.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	offs := make([]int, len(objs))
	for i, o := range objs {
		offs[i] = out.Len()
		fmt.Fprintf(&out, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := out.Len()
	fmt.Fprintf(&out, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, o := range offs {
		fmt.Fprintf(&out, "%010d 00000 n \n", o)
	}
	id := sha256.Sum256([]byte(p.Token.SecretSeed + "/pdf/" + p.Token.Slug))
	hid := strings.ToUpper(hex.EncodeToString(id[:16]))
	fmt.Fprintf(&out, "trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R /ID [<%s> <%s>] >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, len(objs), hid, hid, xref)
	return b.artifact(pdfPath, out.Bytes(), 0o644, "PDF with an open action and a link to the callback; fires when opened in a reader that follows it or when clicked"), nil
}

// pdfEsc escapes a PDF literal string and keeps it ASCII.
func pdfEsc(s string) string {
	var sb strings.Builder
	for _, c := range []byte(s) {
		switch {
		case c == '(' || c == ')' || c == '\\':
			sb.WriteByte('\\')
			sb.WriteByte(c)
		case c < 0x20 || c > 0x7e:
			sb.WriteByte('?')
		default:
			sb.WriteByte(c)
		}
	}
	return sb.String()
}
