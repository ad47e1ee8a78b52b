package imap

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/decnet-go/decnet/internal/honeypot/mailbox"
)

// folder is one mailbox of the account's namespace.
type folder struct {
	name  string
	attrs string // special-use attribute, "" for none
}

// folders are INBOX and the special-use folders of Debian's
// 15-mailboxes.conf, as a mail client creates them. Only INBOX holds mail.
var folders = []folder{
	{"INBOX", ""}, {"Drafts", `\Drafts`}, {"Junk", `\Junk`}, {"Sent", `\Sent`}, {"Trash", `\Trash`},
}

func findFolder(name string) *folder {
	for i := range folders {
		f := &folders[i]
		if f.name == name || f.name == "INBOX" && strings.EqualFold(name, "INBOX") {
			return f
		}
	}
	return nil
}

// messages is what the folder holds.
func (s *session) messages(f *folder) []*mailbox.Message {
	if f.name == "INBOX" {
		return s.box.Messages
	}
	return nil
}

// authenticated is the mail process: Dovecot's imap after login.
func (s *session) authenticated(cmd Command, perr error) bool {
	if perr == nil && cmd.Name == "LOGOUT" {
		s.writef("* BYE Logging out")
		s.ok(cmd.Tag, "Logout completed")
		return false
	}
	good := s.mailCommand(cmd, perr)
	if good {
		s.bad = 0
		return true
	}
	if s.bad++; s.bad >= maxBadMail {
		s.writef("* BYE Too many invalid IMAP commands.")
		return false
	}
	return true
}

// mailCommand answers one command after login and reports whether it was
// valid.
func (s *session) mailCommand(cmd Command, perr error) bool {
	tag := cmd.Tag
	switch {
	case errors.Is(perr, ErrNoTag):
		s.writef("* BAD Error in IMAP command received by server.")
		return false
	case errors.Is(perr, ErrNoCommand):
		s.badf(tag, "Error in IMAP command: Invalid command name")
		return false
	case errors.Is(perr, ErrMissingQuote):
		s.badf(tag, "Error in IMAP command "+cmd.Name+": Missing '\"'")
		return false
	case perr != nil:
		s.badf(tag, "Error in IMAP command "+cmd.Name+": Invalid arguments")
		return false
	}
	invalid := func(what string) bool {
		s.badf(tag, "Error in IMAP command "+cmd.Name+": "+what)
		return false
	}
	needSel := func() bool {
		if s.sel == nil {
			s.badf(tag, "No mailbox selected")
			return false
		}
		return true
	}
	switch cmd.Name {
	case "CAPABILITY":
		s.writef("* CAPABILITY %s", postCaps)
		s.ok(tag, "Capability completed")
	case "NOOP", "CHECK":
		s.ok(tag, titleCase(cmd.Name)+" completed")
	case "ID":
		s.writef(`* ID ("name" "Dovecot")`)
		s.ok(tag, "ID completed")
	case "ENABLE":
		s.writef("* ENABLED")
		s.ok(tag, "Enabled")
	case "NAMESPACE":
		s.writef(`* NAMESPACE (("" ".")) NIL NIL`)
		s.ok(tag, "Namespace completed")
	case "LIST", "LSUB":
		if len(cmd.Args) != 2 || cmd.Args[0].Kind == List || cmd.Args[1].Kind == List {
			return invalid("Invalid arguments")
		}
		s.list(cmd.Name, cmd.Args[0].Value, cmd.Args[1].Value)
		s.ok(tag, titleCase(cmd.Name)+" completed")
	case "STATUS":
		if len(cmd.Args) != 2 || cmd.Args[1].Kind != List {
			return invalid("Invalid arguments")
		}
		f := findFolder(cmd.Args[0].Value)
		if f == nil {
			s.no(tag, "Mailbox doesn't exist: "+cmd.Args[0].Value)
			return true
		}
		if !s.status(f, cmd.Args[1].List) {
			return invalid("Invalid status item")
		}
		s.ok(tag, "Status completed")
	case "SELECT", "EXAMINE":
		if len(cmd.Args) < 1 || cmd.Args[0].Kind == List {
			return invalid("Invalid arguments")
		}
		f := findFolder(cmd.Args[0].Value)
		if f == nil {
			s.sel = nil
			s.no(tag, "Mailbox doesn't exist: "+cmd.Args[0].Value)
			return true
		}
		s.selectFolder(tag, f, cmd.Name == "EXAMINE")
	case "CREATE", "DELETE", "RENAME", "SUBSCRIBE", "UNSUBSCRIBE", "APPEND":
		if len(cmd.Args) < 1 {
			return invalid("Invalid arguments")
		}
		s.ok(tag, titleCase(cmd.Name)+" completed")
	case "CLOSE", "UNSELECT":
		if !needSel() {
			return false
		}
		s.sel = nil
		s.ok(tag, titleCase(cmd.Name)+" completed")
	case "EXPUNGE":
		if !needSel() {
			return false
		}
		s.ok(tag, "Expunge completed")
	case "IDLE":
		return s.idle(tag)
	case "FETCH", "UID FETCH":
		if !needSel() {
			return false
		}
		if len(cmd.Args) < 2 || cmd.Args[0].Kind != Atom {
			return invalid("Invalid arguments")
		}
		return s.fetch(tag, cmd, cmd.Name == "UID FETCH")
	case "SEARCH", "UID SEARCH":
		if !needSel() {
			return false
		}
		return s.search(tag, cmd, cmd.Name == "UID SEARCH")
	case "STORE", "UID STORE":
		if !needSel() {
			return false
		}
		return s.store(tag, cmd, cmd.Name == "UID STORE")
	case "COPY", "UID COPY", "MOVE", "UID MOVE":
		if !needSel() {
			return false
		}
		if len(cmd.Args) != 2 {
			return invalid("Invalid arguments")
		}
		name := strings.TrimPrefix(cmd.Name, "UID ")
		s.ok(tag, titleCase(name)+" completed")
	default:
		return invalid("Unknown command")
	}
	return true
}

func titleCase(s string) string {
	if s == "" {
		return s
	}
	return s[:1] + strings.ToLower(s[1:])
}

func (s *session) list(cmd, ref, pattern string) {
	if pattern == "" && cmd == "LIST" {
		s.writef(`* LIST (\Noselect) "." ""`)
		return
	}
	for _, f := range folders {
		if !match(ref+pattern, f.name) {
			continue
		}
		attrs := `\HasNoChildren`
		if f.attrs != "" {
			attrs += " " + f.attrs
		}
		s.writef(`* %s (%s) "." %s`, cmd, attrs, f.name)
	}
}

// match is IMAP LIST matching: '*' matches anything, '%' anything but the
// hierarchy separator.
func match(pattern, name string) bool {
	if strings.EqualFold(name, "INBOX") && strings.EqualFold(pattern, "INBOX") {
		return true
	}
	if pattern == "" {
		return name == ""
	}
	switch pattern[0] {
	case '*', '%':
		for i := 0; i <= len(name); i++ {
			if pattern[0] == '%' && i > 0 && name[i-1] == '.' {
				break
			}
			if match(pattern[1:], name[i:]) {
				return true
			}
		}
		return false
	}
	return name != "" && pattern[0] == name[0] && match(pattern[1:], name[1:])
}

func (s *session) status(f *folder, items []Arg) bool {
	msgs := s.messages(f)
	want := map[string]bool{}
	for _, it := range items {
		if it.Kind != Atom {
			return false
		}
		switch k := strings.ToUpper(it.Value); k {
		case "MESSAGES", "RECENT", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "SIZE", "HIGHESTMODSEQ":
			want[k] = true
		default:
			return false
		}
	}
	var out []string
	add := func(k string, v uint64) {
		if want[k] {
			out = append(out, fmt.Sprintf("%s %d", k, v))
		}
	}
	unseen, size := 0, 0
	for _, m := range msgs {
		if !m.Seen {
			unseen++
		}
		size += m.Size()
	}
	uidnext, validity := uint32(1), s.box.UIDValidity+uint32(slices.Index(folders, *f))
	if f.name == "INBOX" {
		uidnext = s.box.UIDNext
	}
	add("MESSAGES", uint64(len(msgs)))
	add("RECENT", 0)
	add("UIDNEXT", uint64(uidnext))
	add("UIDVALIDITY", uint64(validity))
	add("UNSEEN", uint64(unseen))
	add("HIGHESTMODSEQ", uint64(len(msgs)+1))
	add("SIZE", uint64(size))
	s.writef("* STATUS %s (%s)", f.name, strings.Join(out, " "))
	return true
}

func (s *session) selectFolder(tag string, f *folder, readOnly bool) {
	s.sel, s.readOnly = f, readOnly
	msgs := s.messages(f)
	s.seen = make([]bool, len(msgs))
	s.flags = make([]map[string]bool, len(msgs))
	firstUnseen := 0
	for i, m := range msgs {
		s.seen[i] = m.Seen
		if !m.Seen && firstUnseen == 0 {
			firstUnseen = i + 1
		}
	}
	uidnext, validity := uint32(1), s.box.UIDValidity+uint32(slices.Index(folders, *f))
	if f.name == "INBOX" {
		uidnext = s.box.UIDNext
	}
	s.writef(`* FLAGS (\Answered \Flagged \Deleted \Seen \Draft)`)
	if readOnly {
		s.writef(`* OK [PERMANENTFLAGS ()] Read-only mailbox.`)
	} else {
		s.writef(`* OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft \*)] Flags permitted.`)
	}
	s.writef("* %d EXISTS", len(msgs))
	s.writef("* 0 RECENT")
	if firstUnseen > 0 {
		s.writef("* OK [UNSEEN %d] First unseen.", firstUnseen)
	}
	s.writef("* OK [UIDVALIDITY %d] UIDs valid", validity)
	s.writef("* OK [UIDNEXT %d] Predicted next UID", uidnext)
	if readOnly {
		s.ok(tag, "[READ-ONLY] Examine completed")
	} else {
		s.ok(tag, "[READ-WRITE] Select completed")
	}
}

// idle waits for DONE.
func (s *session) idle(tag string) bool {
	s.writef("+ idling")
	if s.bw.Flush() != nil {
		return false
	}
	line, err := readLine(s.br, maxCommand)
	if err != nil {
		return false
	}
	if !strings.EqualFold(string(line), "DONE") {
		s.badf(tag, "Expected DONE")
		return false
	}
	s.ok(tag, "Idle completed")
	return true
}

// resolve turns a sequence or UID set into message indexes of the
// selected folder; ok is false for a set naming messages that do not
// exist, which Dovecot calls an invalid messageset.
func (s *session) resolve(set string, uid bool) ([]int, bool) {
	seq, ok := ParseSeqSet(set)
	if !ok {
		return nil, false
	}
	msgs := s.messages(s.sel)
	var out []int
	if uid {
		last := uint32(0)
		if len(msgs) > 0 {
			last = msgs[len(msgs)-1].UID
		}
		for i, m := range msgs {
			if seq.Contains(m.UID, last) {
				out = append(out, i)
			}
		}
		return out, true
	}
	if int(seq.Max()) > len(msgs) || len(msgs) == 0 {
		return nil, false
	}
	for i := range msgs {
		if seq.Contains(uint32(i+1), uint32(len(msgs))) {
			out = append(out, i)
		}
	}
	return out, true
}

// fetchItem is one parsed data item of FETCH.
type fetchItem struct {
	name    string // FLAGS, UID, RFC822.SIZE, BODY[...], ...
	section string // for BODY[...]: the upper-cased section text
	fields  []string
	not     bool
	peek    bool
	partial bool
	// isSection marks BODY[...] and BODY.PEEK[...], as opposed to the
	// BODY structure item.
	isSection bool
	off, n    int
}

func parseFetchItems(args []Arg) ([]fetchItem, bool) {
	var atoms []string
	if len(args) == 1 && args[0].Kind == List {
		for _, a := range args[0].List {
			if a.Kind != Atom {
				return nil, false
			}
			atoms = append(atoms, a.Value)
		}
	} else if len(args) == 1 && args[0].Kind == Atom {
		switch strings.ToUpper(args[0].Value) {
		case "ALL":
			atoms = []string{"FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"}
		case "FAST":
			atoms = []string{"FLAGS", "INTERNALDATE", "RFC822.SIZE"}
		case "FULL":
			atoms = []string{"FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"}
		default:
			atoms = []string{args[0].Value}
		}
	} else {
		return nil, false
	}
	var items []fetchItem
	for _, a := range atoms {
		it, ok := parseFetchAtom(a)
		if !ok {
			return nil, false
		}
		items = append(items, it)
	}
	return items, len(items) > 0
}

func parseFetchAtom(a string) (fetchItem, bool) {
	u := strings.ToUpper(a)
	switch u {
	case "FLAGS", "UID", "RFC822.SIZE", "INTERNALDATE", "ENVELOPE", "RFC822", "RFC822.HEADER", "RFC822.TEXT", "BODYSTRUCTURE", "BODY":
		return fetchItem{name: u}, true
	}
	it := fetchItem{name: "BODY", isSection: true}
	switch {
	case strings.HasPrefix(u, "BODY.PEEK["):
		it.peek, u = true, u[len("BODY.PEEK["):]
	case strings.HasPrefix(u, "BODY["):
		u = u[len("BODY["):]
	default:
		return it, false
	}
	end := strings.IndexByte(u, ']')
	if end < 0 {
		return it, false
	}
	sec, rest := u[:end], u[end+1:]
	if rest != "" {
		var o, n int
		if _, err := fmt.Sscanf(rest, "<%d.%d>", &o, &n); err != nil || o < 0 || n <= 0 || fmt.Sprintf("<%d.%d>", o, n) != rest {
			return it, false
		}
		it.partial, it.off, it.n = true, o, n
	}
	switch {
	case sec == "" || sec == "HEADER" || sec == "TEXT" || sec == "1" || sec == "1.MIME" || sec == "MIME":
		it.section = sec
	case strings.HasPrefix(sec, "HEADER.FIELDS"):
		names := strings.TrimPrefix(sec, "HEADER.FIELDS")
		if strings.HasPrefix(names, ".NOT") {
			it.not, names = true, names[len(".NOT"):]
		}
		names = strings.TrimSpace(names)
		if !strings.HasPrefix(names, "(") || !strings.HasSuffix(names, ")") {
			return it, false
		}
		it.fields = strings.Fields(names[1 : len(names)-1])
		if len(it.fields) == 0 {
			return it, false
		}
		it.section = sec
		if it.not {
			it.section = "HEADER.FIELDS.NOT (" + strings.Join(it.fields, " ") + ")"
		} else {
			it.section = "HEADER.FIELDS (" + strings.Join(it.fields, " ") + ")"
		}
	default:
		return it, false
	}
	return it, true
}

func (s *session) fetch(tag string, cmd Command, uid bool) bool {
	idx, ok := s.resolve(cmd.Args[0].Value, uid)
	if !ok {
		s.badf(tag, "Error in IMAP command "+cmd.Name+": Invalid messageset")
		return false
	}
	items, ok := parseFetchItems(cmd.Args[1:])
	if !ok {
		s.badf(tag, "Error in IMAP command "+cmd.Name+": Invalid arguments")
		return false
	}
	msgs := s.messages(s.sel)
	for _, i := range idx {
		m := msgs[i]
		var parts []string
		setsSeen := false
		hasFlags := false
		for _, it := range items {
			hasFlags = hasFlags || it.name == "FLAGS"
			if !s.readOnly && !s.seen[i] && (it.name == "RFC822" || it.name == "RFC822.TEXT" || it.isSection && !it.peek) {
				setsSeen = true
			}
		}
		if setsSeen {
			s.seen[i] = true
		}
		if uid {
			parts = append(parts, fmt.Sprintf("UID %d", m.UID))
		}
		if setsSeen && !hasFlags {
			parts = append(parts, "FLAGS ("+s.flagList(i)+")")
		}
		for _, it := range items {
			if uid && it.name == "UID" {
				continue
			}
			parts = append(parts, s.fetchPart(i, m, it))
		}
		s.writef("* %d FETCH (%s)", i+1, strings.Join(parts, " "))
		for _, it := range items {
			if it.name == "RFC822" || it.name == "RFC822.TEXT" || it.isSection && (it.section == "" || it.section == "TEXT" || it.section == "1") {
				s.emitRead(cmd.Name, i, m)
				break
			}
		}
	}
	s.ok(tag, "Fetch completed")
	return true
}

func (s *session) flagList(i int) string {
	var f []string
	for _, k := range []string{`\Answered`, `\Flagged`, `\Deleted`, `\Draft`} {
		if s.flags[i][k] {
			f = append(f, k)
		}
	}
	if s.seen[i] {
		f = append(f, `\Seen`)
	}
	return strings.Join(f, " ")
}

func (s *session) fetchPart(i int, m *mailbox.Message, it fetchItem) string {
	switch it.name {
	case "FLAGS":
		return "FLAGS (" + s.flagList(i) + ")"
	case "UID":
		return fmt.Sprintf("UID %d", m.UID)
	case "RFC822.SIZE":
		return fmt.Sprintf("RFC822.SIZE %d", m.Size())
	case "INTERNALDATE":
		return `INTERNALDATE "` + m.Date.Format("02-Jan-2006 15:04:05 -0700") + `"`
	case "ENVELOPE":
		return "ENVELOPE " + envelope(m)
	case "RFC822":
		return "RFC822 " + literal(m.Raw)
	case "RFC822.HEADER":
		return "RFC822.HEADER " + literal(m.Header())
	case "RFC822.TEXT":
		return "RFC822.TEXT " + literal(m.Body())
	case "BODYSTRUCTURE":
		return "BODYSTRUCTURE " + bodyStructure(m, true)
	case "BODY":
		if !it.isSection {
			return "BODY " + bodyStructure(m, false)
		}
	}
	var data []byte
	switch {
	case it.section == "":
		data = m.Raw
	case it.section == "HEADER" || it.section == "MIME" || it.section == "1.MIME":
		data = m.Header()
	case it.section == "TEXT" || it.section == "1":
		data = m.Body()
	default:
		data = headerFields(m, it.fields, it.not)
	}
	name := "BODY[" + it.section + "]"
	if it.partial {
		name += fmt.Sprintf("<%d>", it.off)
		if it.off >= len(data) {
			data = nil
		} else {
			data = data[it.off:min(len(data), it.off+it.n)]
		}
	}
	return name + " " + literal(data)
}

func literal(b []byte) string { return fmt.Sprintf("{%d}\r\n%s", len(b), b) }

// headerFields returns the named header fields (or all but them) with the
// closing empty line.
func headerFields(m *mailbox.Message, names []string, not bool) []byte {
	var out bytes.Buffer
	lines := strings.SplitAfter(string(m.Header()), "\r\n")
	keep := false
	for _, l := range lines {
		if l == "\r\n" || l == "" {
			break
		}
		if l[0] != ' ' && l[0] != '\t' {
			name, _, _ := strings.Cut(l, ":")
			keep = slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(n, name) }) != not
		}
		if keep {
			out.WriteString(l)
		}
	}
	out.WriteString("\r\n")
	return out.Bytes()
}

// nstring quotes s as an IMAP string, NIL when empty; non-ASCII or
// quote-unsafe text goes as a literal.
func nstring(s string) string {
	if s == "" {
		return "NIL"
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e {
			return literal([]byte(s))
		}
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

func addrList(a mailbox.Address) string {
	return fmt.Sprintf("((%s NIL %s %s))", nstring(a.Name), nstring(a.Mailbox), nstring(a.Host))
}

// envelope is the ENVELOPE of RFC 3501 §7.4.2.
func envelope(m *mailbox.Message) string {
	from := addrList(m.From)
	irt := nstring(m.HeaderValue("In-Reply-To"))
	return fmt.Sprintf("(%s %s %s %s %s %s NIL NIL %s %s)",
		nstring(m.HeaderValue("Date")), nstring(m.Subject), from, from, from, addrList(m.To), irt, nstring(m.MessageID))
}

// bodyStructure describes the single text/plain part of a bait message.
func bodyStructure(m *mailbox.Message, ext bool) string {
	body := m.Body()
	lines := bytes.Count(body, []byte("\n"))
	s := fmt.Sprintf(`"text" "plain" ("charset" "UTF-8") NIL NIL "7bit" %d %d`, len(body), lines)
	if ext {
		s += " NIL NIL NIL NIL"
	}
	return "(" + s + ")"
}

func (s *session) search(tag string, cmd Command, uid bool) bool {
	args := cmd.Args
	if len(args) >= 2 && args[0].Kind == Atom && strings.EqualFold(args[0].Value, "CHARSET") {
		args = args[2:]
	}
	if len(args) == 0 {
		s.badf(tag, "Error in IMAP command "+cmd.Name+": Missing search parameters")
		return false
	}
	msgs := s.messages(s.sel)
	var hits []string
	for i, m := range msgs {
		ok, _, err := s.matchKeys(args, i, m, true)
		if err != "" {
			s.badf(tag, "Error in IMAP command "+cmd.Name+": "+err)
			return false
		}
		if ok {
			if uid {
				hits = append(hits, strconv.Itoa(int(m.UID)))
			} else {
				hits = append(hits, strconv.Itoa(i+1))
			}
		}
	}
	if len(msgs) == 0 {
		// Still validate the keys.
		if _, _, err := s.matchKeys(args, -1, nil, true); err != "" {
			s.badf(tag, "Error in IMAP command "+cmd.Name+": "+err)
			return false
		}
	}
	if len(hits) == 0 {
		s.writef("* SEARCH")
	} else {
		s.writef("* SEARCH %s", strings.Join(hits, " "))
	}
	s.ok(tag, "Search completed")
	return true
}

// matchKeys evaluates search keys (all of them when all is set, else just
// the first) against message i; err is Dovecot's complaint about a key.
func (s *session) matchKeys(args []Arg, i int, m *mailbox.Message, all bool) (bool, []Arg, string) {
	result := true
	for len(args) > 0 {
		ok, rest, err := s.matchKey(args, i, m)
		if err != "" {
			return false, nil, err
		}
		result = result && ok
		args = rest
		if !all {
			break
		}
	}
	return result, args, ""
}

func (s *session) matchKey(args []Arg, i int, m *mailbox.Message) (bool, []Arg, string) {
	a := args[0]
	args = args[1:]
	if a.Kind == List {
		ok, _, err := s.matchKeys(a.List, i, m, true)
		return ok, args, err
	}
	if a.Kind != Atom {
		return false, nil, "Unknown argument " + a.Value
	}
	key := strings.ToUpper(a.Value)
	str := func() (string, bool) {
		if len(args) == 0 || args[0].Kind == List {
			return "", false
		}
		v := args[0].Value
		args = args[1:]
		return v, true
	}
	has := func(text, sub string) bool {
		return m != nil && strings.Contains(strings.ToLower(text), strings.ToLower(sub))
	}
	switch key {
	case "ALL":
		return true, args, ""
	case "SEEN", "OLD":
		return m != nil && (key == "OLD" || s.seen[i]), args, ""
	case "UNSEEN":
		return m != nil && !s.seen[i], args, ""
	case "NEW", "RECENT", "ANSWERED", "DELETED", "DRAFT", "FLAGGED":
		return false, args, ""
	case "UNANSWERED", "UNDELETED", "UNDRAFT", "UNFLAGGED":
		return true, args, ""
	case "FROM", "TO", "SUBJECT", "BODY", "TEXT", "CC", "BCC":
		v, ok := str()
		if !ok {
			return false, nil, "Missing parameter for argument"
		}
		if m == nil {
			return false, args, ""
		}
		switch key {
		case "FROM":
			return has(m.From.String(), v), args, ""
		case "TO":
			return has(m.To.String(), v), args, ""
		case "SUBJECT":
			return has(m.Subject, v), args, ""
		case "BODY":
			return has(string(m.Body()), v), args, ""
		case "TEXT":
			return has(string(m.Raw), v), args, ""
		}
		return false, args, ""
	case "HEADER":
		f, ok1 := str()
		v, ok2 := str()
		if !ok1 || !ok2 {
			return false, nil, "Missing parameter for argument"
		}
		return m != nil && has(m.HeaderValue(f), v), args, ""
	case "SINCE", "BEFORE", "ON", "SENTSINCE", "SENTBEFORE", "SENTON":
		v, ok := str()
		if !ok {
			return false, nil, "Missing parameter for argument"
		}
		d, err := time.Parse("2-Jan-2006", v)
		if err != nil {
			return false, nil, "Invalid search date parameter"
		}
		if m == nil {
			return false, args, ""
		}
		day := time.Date(m.Date.Year(), m.Date.Month(), m.Date.Day(), 0, 0, 0, 0, time.UTC)
		switch strings.TrimPrefix(key, "SENT") {
		case "SINCE":
			return !day.Before(d), args, ""
		case "BEFORE":
			return day.Before(d), args, ""
		}
		return day.Equal(d), args, ""
	case "LARGER", "SMALLER":
		v, ok := str()
		n, err := strconv.Atoi(v)
		if !ok || err != nil {
			return false, nil, "Invalid size"
		}
		if m == nil {
			return false, args, ""
		}
		if key == "LARGER" {
			return m.Size() > n, args, ""
		}
		return m.Size() < n, args, ""
	case "UID":
		v, ok := str()
		set, ok2 := ParseSeqSet(v)
		if !ok || !ok2 {
			return false, nil, "Invalid uidset"
		}
		return m != nil && set.Contains(m.UID, s.box.UIDNext-1), args, ""
	case "NOT":
		if len(args) == 0 {
			return false, nil, "Missing parameter for argument"
		}
		ok, rest, err := s.matchKey(args, i, m)
		return m != nil && !ok, rest, err
	case "OR":
		if len(args) < 2 {
			return false, nil, "Missing parameter for argument"
		}
		a1, rest, err := s.matchKey(args, i, m)
		if err != "" || len(rest) == 0 {
			return false, nil, "Missing parameter for argument"
		}
		a2, rest, err := s.matchKey(rest, i, m)
		return a1 || a2, rest, err
	}
	if set, ok := ParseSeqSet(a.Value); ok {
		n := len(s.messages(s.sel))
		return m != nil && set.Contains(uint32(i+1), uint32(n)), args, ""
	}
	return false, nil, "Unknown argument " + a.Value
}

func (s *session) store(tag string, cmd Command, uid bool) bool {
	if len(cmd.Args) != 3 || cmd.Args[0].Kind != Atom || cmd.Args[1].Kind != Atom {
		s.badf(tag, "Error in IMAP command "+cmd.Name+": Invalid arguments")
		return false
	}
	idx, ok := s.resolve(cmd.Args[0].Value, uid)
	if !ok {
		s.badf(tag, "Error in IMAP command "+cmd.Name+": Invalid messageset")
		return false
	}
	if s.readOnly {
		s.no(tag, "Mailbox is read-only")
		return true
	}
	op := strings.ToUpper(cmd.Args[1].Value)
	silent := strings.HasSuffix(op, ".SILENT")
	op = strings.TrimSuffix(op, ".SILENT")
	var flags []string
	if cmd.Args[2].Kind == List {
		for _, a := range cmd.Args[2].List {
			flags = append(flags, a.Value)
		}
	} else {
		flags = []string{cmd.Args[2].Value}
	}
	if op != "FLAGS" && op != "+FLAGS" && op != "-FLAGS" {
		s.badf(tag, "Error in IMAP command "+cmd.Name+": Invalid arguments")
		return false
	}
	msgs := s.messages(s.sel)
	for _, i := range idx {
		if s.flags[i] == nil || op == "FLAGS" {
			s.flags[i] = map[string]bool{}
			if op == "FLAGS" {
				s.seen[i] = false
			}
		}
		for _, f := range flags {
			canon := titleCase(strings.TrimPrefix(f, `\`))
			if strings.EqualFold(canon, "Seen") {
				s.seen[i] = op != "-FLAGS"
				continue
			}
			s.flags[i][`\`+canon] = op != "-FLAGS"
		}
		if !silent {
			if uid {
				s.writef("* %d FETCH (UID %d FLAGS (%s))", i+1, msgs[i].UID, s.flagList(i))
			} else {
				s.writef("* %d FETCH (FLAGS (%s))", i+1, s.flagList(i))
			}
		}
	}
	s.ok(tag, "Store completed")
	return true
}

// emitRead records which bait message an attacker read.
func (s *session) emitRead(cmd string, i int, m *mailbox.Message) {
	e := s.c.Event("mail_read")
	e.Fields = map[string]any{"cmd": cmd, "message_num": i + 1, "uid": int(m.UID), "subject": m.Subject, "message_id": m.MessageID, "username": s.login}
	s.c.Emit(e)
}
