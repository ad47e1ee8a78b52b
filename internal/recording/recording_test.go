package recording

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/honeypot/asciicast"
)

func TestText(t *testing.T) {
	for _, tc := range []struct {
		name string
		out  []string
		want string
	}{
		{"lines", []string{"root@web:~# ls\r\n", "a  b\r\n", "root@web:~# "}, "root@web:~# ls\na  b\nroot@web:~#"},
		{"colour stripped", []string{"\x1b[01;32mroot@web\x1b[00m:\x1b[01;34m~\x1b[00m# "}, "root@web:~#"},
		{"backspace erase", []string{"$ lsx", "\b \b", "\r\n"}, "$ ls"},
		{"carriage return overwrites", []string{"12345\rab"}, "ab345"},
		{"erase to end of line", []string{"12345\r\x1b[K$ id"}, "$ id"},
		{"erase whole line", []string{"abc\x1b[2K\rxy"}, "xy"},
		{"cursor left and delete", []string{"$ wgxet", "\x1b[3D\x1b[P"}, "$ wget"},
		{"title dropped", []string{"\x1b]0;root@web: ~\a$ "}, "$"},
		{"tab", []string{"a\tb"}, "a       b"},
		{"clear screen keeps scroll-back", []string{"one\r\n$ clear\r\n\x1b[H\x1b[2J$ "}, "one\n$ clear\n$"},
		{"split escape", []string{"a\x1b[", "31mb"}, "ab"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var evs []asciicast.Event
			for i, s := range tc.out {
				evs = append(evs, asciicast.Event{Time: float64(i), Code: asciicast.Output, Data: s})
			}
			evs = append(evs, asciicast.Event{Time: 9, Code: asciicast.Input, Data: "ignored"})
			if got := Text(evs); got != tc.want {
				t.Errorf("Text = %q, want %q", got, tc.want)
			}
		})
	}
}

func FuzzText(f *testing.F) {
	f.Add("root@web:~# ls\r\n\x1b[0m\x1b[01;34mbin\x1b[0m\r\n")
	f.Add("\x1b[3D\x1b[P\x1b[2J\x1b]0;title\a\b\b\t")
	f.Add("\x1b[999999999999C\x1b[1000@x")
	f.Fuzz(func(t *testing.T, s string) {
		var sc Screen
		sc.Write(s)
		_ = sc.String()
	})
}

func recorded(decky, service, storedAs, sid string) event.Event {
	e := event.New(decky, service, asciicast.TypeSessionRecorded)
	e.Fields = map[string]any{"stored_as": storedAs, "sid": sid}
	return e
}

func TestFromEvent(t *testing.T) {
	const good = "transcripts/2026-01-02T03-04-05Z_0190-ab.cast"
	for _, tc := range []struct {
		name string
		e    event.Event
		ok   bool
	}{
		{"ssh", recorded("decky-01", "ssh", good, "0190-ab"), true},
		{"telnet", recorded("decky-01", "telnet", good, "0190-ab"), true},
		{"other service", recorded("decky-01", "http", good, "0190-ab"), false},
		{"climbs out", recorded("decky-01", "ssh", "../../../etc/passwd.cast", "0190-ab"), false},
		{"absolute", recorded("decky-01", "ssh", "/etc/x.cast", "0190-ab"), false},
		{"unclean", recorded("decky-01", "ssh", "transcripts/../transcripts/x.cast", "0190-ab"), false},
		{"backslash", recorded("decky-01", "ssh", `transcripts\x.cast`, "0190-ab"), false},
		{"not a cast", recorded("decky-01", "ssh", "transcripts/x.json", "0190-ab"), false},
		{"bad decky", recorded("../x", "ssh", good, "0190-ab"), false},
		{"bad sid", recorded("decky-01", "ssh", good, "a/b"), false},
		{"other type", func() event.Event { e := recorded("decky-01", "ssh", good, "x"); e.Type = "command"; return e }(), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, ok := FromEvent(tc.e); ok != tc.ok {
				t.Errorf("FromEvent ok = %v, want %v", ok, tc.ok)
			}
		})
	}
}

// writeCast writes a recording of session sid on decky's ssh.
func writeCast(t *testing.T, dataDir, decky, sid string, lines ...string) string {
	t.Helper()
	dir := filepath.Join(dataDir, "deckies", decky, "ssh", "transcripts")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	name := "2026-01-02T03-04-05Z_" + sid + ".cast"
	body := `{"version":2,"width":80,"height":24,"timestamp":1767323045}` + "\n" + strings.Join(lines, "\n") + "\n"
	if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return "transcripts/" + name
}

func TestFindLoadPage(t *testing.T) {
	data := t.TempDir()
	stored := writeCast(t, data, "decky-01", "sid-1", `[0.1,"o","$ "]`, `[0.5,"i","id\r"]`, `[0.6,"o","uid=0(root)\r\n"]`, `[0.7,"m","truncated"]`)
	ref, err := Find(data, "decky-01", "sid-1")
	if err != nil {
		t.Fatal(err)
	}
	if ref.Service != "ssh" || ref.StoredAs != stored {
		t.Fatalf("Find = %+v", ref)
	}
	rec, err := Load(data, ref)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Events) != 4 || !rec.Truncated || rec.Header.Width != 80 || rec.Duration() != 0.7 {
		t.Fatalf("Load = %+v", rec)
	}
	p := rec.Page(1, 2)
	b, _ := json.Marshal(p)
	want := `"events":[[0.5,"i","id\r"],[0.6,"o","uid=0(root)\r\n"]],"offset":1,"total":4,"has_more":true,"truncated":true`
	if !strings.Contains(string(b), want) {
		t.Errorf("page JSON = %s, want it to hold %s", b, want)
	}
	if p := rec.Page(10, 5); len(p.Events) != 0 || p.HasMore {
		t.Errorf("page past the end = %+v", p)
	}

	for _, tc := range []struct {
		name, decky, sid string
		want             error
	}{
		{"unknown sid", "decky-01", "sid-2", ErrNotFound},
		{"unknown decky", "decky-02", "sid-1", ErrNotFound},
		{"bad decky", "..", "sid-1", ErrInvalid},
		{"bad sid", "decky-01", "../x", ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Find(data, tc.decky, tc.sid); !errors.Is(err, tc.want) {
				t.Errorf("Find = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestLoadRefusesLinksOut(t *testing.T) {
	data := t.TempDir()
	outside := filepath.Join(t.TempDir(), "secret.cast")
	os.WriteFile(outside, []byte(`{"version":2,"width":80,"height":24}`+"\n"), 0o644)
	dir := filepath.Join(data, "deckies", "decky-01", "ssh", "transcripts")
	os.MkdirAll(dir, 0o755)
	if err := os.Symlink(outside, filepath.Join(dir, "x_sid-9.cast")); err != nil {
		t.Skip("no symlinks:", err)
	}
	if _, err := Load(data, Ref{Decky: "decky-01", Service: "ssh", StoredAs: "transcripts/x_sid-9.cast"}); err == nil {
		t.Fatal("Load followed a link out of the data directory")
	}
	if _, err := Load(data, Ref{Decky: "decky-01", Service: "ssh", StoredAs: "transcripts/nope.cast"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Load of a missing file = %v, want ErrNotFound", err)
	}
}
