package docker

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/decnet-go/decnet/internal/event"
)

// A container's log stream, multiplexed as docker sends it: event lines on
// stdout are decoded, other stdout lines and stderr are skipped.
func TestReadEventLines(t *testing.T) {
	e := event.New("decky-01", "ssh", event.TypeLoginAttempt)
	e.SrcIP, e.SrcPort, e.Proto = "198.51.100.7", 40022, "tcp"
	e.Credential = &event.Credential{Principal: "root", SecretKind: event.SecretPlaintext, SecretPrintable: "toor", SecretB64: "dG9vcg=="}
	var stream bytes.Buffer
	frame := func(std byte, s string) { // docker's 8-byte frame header, then the bytes
		stream.Write([]byte{byte(std), 0, 0, 0})
		binary.Write(&stream, binary.BigEndian, uint32(len(s)))
		stream.WriteString(s)
	}
	frame(streamStdout, `time=2026-01-01T00:00:00Z level=INFO msg=listening service=ssh`+"\n")
	frame(streamStderr, "a warning on stderr\n")
	line := event.EncodeRFC5424(&e) + "\n"
	frame(streamStdout, line[:20]) // a line split over two frames
	frame(streamStdout, line[20:])
	frame(streamStdout, strings.Repeat("x", 100)+"\n")

	var got []event.Event
	events, skipped, err := readEventLines(&stream, func(e event.Event) { got = append(got, e) })
	if err != nil || events != 1 || skipped != 2 {
		t.Fatalf("events %d skipped %d err %v; want 1, 2, nil", events, skipped, err)
	}
	if g := got[0]; g.ID != e.ID || g.Decky != "decky-01" || g.Credential == nil || g.Credential.SecretPrintable != "toor" {
		t.Fatalf("decoded %+v; want %+v", g, e)
	}
}

// FuzzReadEventLines feeds arbitrary container log streams (a decky's
// stdout carries attacker-chosen text inside its events) to the backfill
// reader: it must never panic, and only valid events come out.
func FuzzReadEventLines(f *testing.F) {
	e := event.New("decky-01", "ssh", event.TypeCommand)
	e.SrcIP, e.Fields = "198.51.100.7", map[string]any{"command": "echo hi\r\n<134>1 forged"}
	line := event.EncodeRFC5424(&e) + "\n"
	frame := func(std byte, s string) []byte {
		b := []byte{std, 0, 0, 0, 0, 0, 0, 0}
		binary.BigEndian.PutUint32(b[4:], uint32(len(s)))
		return append(b, s...)
	}
	f.Add(frame(1, line))
	f.Add(append(frame(1, line[:10]), frame(2, "warn\n")...))
	f.Add([]byte{1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte("not multiplexed at all\n"))
	f.Fuzz(func(t *testing.T, stream []byte) {
		readEventLines(bytes.NewReader(stream), func(e event.Event) {
			if err := e.Validate(); err != nil {
				t.Fatalf("an invalid event came out: %v", err)
			}
		})
	})
}
