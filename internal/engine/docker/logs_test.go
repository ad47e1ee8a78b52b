package docker

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/moby/moby/api/pkg/stdcopy"

	"github.com/decnet-go/decnet/internal/event"
)

// A container's log stream, multiplexed as docker sends it: event lines on
// stdout are decoded, other stdout lines and stderr are skipped.
func TestReadEventLines(t *testing.T) {
	e := event.New("decky-01", "ssh", event.TypeLoginAttempt)
	e.SrcIP, e.SrcPort, e.Proto = "198.51.100.7", 40022, "tcp"
	e.Credential = &event.Credential{Principal: "root", SecretKind: event.SecretPlaintext, SecretPrintable: "toor", SecretB64: "dG9vcg=="}
	var stream bytes.Buffer
	frame := func(std stdcopy.StdType, s string) { // docker's 8-byte frame header, then the bytes
		stream.Write([]byte{byte(std), 0, 0, 0})
		binary.Write(&stream, binary.BigEndian, uint32(len(s)))
		stream.WriteString(s)
	}
	frame(stdcopy.Stdout, `time=2026-01-01T00:00:00Z level=INFO msg=listening service=ssh`+"\n")
	frame(stdcopy.Stderr, "a warning on stderr\n")
	line := event.EncodeRFC5424(&e) + "\n"
	frame(stdcopy.Stdout, line[:20]) // a line split over two frames
	frame(stdcopy.Stdout, line[20:])
	frame(stdcopy.Stdout, strings.Repeat("x", 100)+"\n")

	var got []event.Event
	events, skipped, err := readEventLines(&stream, func(e event.Event) { got = append(got, e) })
	if err != nil || events != 1 || skipped != 2 {
		t.Fatalf("events %d skipped %d err %v; want 1, 2, nil", events, skipped, err)
	}
	if g := got[0]; g.ID != e.ID || g.Decky != "decky-01" || g.Credential == nil || g.Credential.SecretPrintable != "toor" {
		t.Fatalf("decoded %+v; want %+v", g, e)
	}
}
