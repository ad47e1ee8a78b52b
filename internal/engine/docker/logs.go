package docker

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/moby/moby/client"

	"github.com/decnet-go/decnet/internal/event"
)

// maxLogLine bounds one line of a decky's stdout; an event line is far
// shorter (fields are capped by the services).
const maxLogLine = 1 << 20

// BackfillReport says what Backfill read.
type BackfillReport struct {
	Containers int // service containers read
	Events     int // event lines handed on
	Skipped    int // lines that were not events (log lines of the runtime)
}

// Backfill reads what every service container of the fleet wrote to stdout
// since `since` and hands each RFC 5424 event line, decoded, to emit. Every
// event a decky emits is on its stdout as well as sent to the bus, so this
// recovers what the bus never got — events of the time the control plane
// was down, when the containers went on without it. Events that did reach
// the bus are dropped downstream by their id, so reading too much is safe.
func (d *Driver) Backfill(ctx context.Context, since time.Time, emit func(event.Event)) (BackfillReport, error) {
	var rep BackfillReport
	cs, err := d.list(ctx)
	if err != nil {
		return rep, err
	}
	var errs []error
	for _, c := range cs {
		if c.Labels[LabelRole] != RoleService {
			continue
		}
		opts := client.ContainerLogsOptions{ShowStdout: true}
		if !since.IsZero() {
			opts.Since = strconv.FormatInt(since.Unix(), 10)
		}
		r, err := d.cli.ContainerLogs(ctx, c.ID, opts)
		if err != nil {
			errs = append(errs, fmt.Errorf("logs of %s: %w", name(c), err))
			continue
		}
		rep.Containers++
		events, skipped, err := readEventLines(r, emit)
		r.Close()
		rep.Events += events
		rep.Skipped += skipped
		if err != nil {
			errs = append(errs, fmt.Errorf("logs of %s: %w", name(c), err))
		}
	}
	return rep, errors.Join(errs...)
}

// readEventLines demultiplexes a container's log stream (docker frames
// stdout and stderr of a container without a tty: an 8-byte header —
// stream, 3 zero bytes, big-endian length — then the bytes) and decodes
// its stdout lines as events. A frame longer than maxLogLine ends the read
// with an error, so no stream can make it allocate without bound.
func readEventLines(multiplexed io.Reader, emit func(event.Event)) (events, skipped int, err error) {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(demuxStdout(pw, multiplexed)) }()
	defer pr.Close()
	sc := bufio.NewScanner(pr)
	sc.Buffer(make([]byte, 0, 64<<10), maxLogLine)
	for sc.Scan() {
		e, err := event.DecodeRFC5424(sc.Text())
		if err != nil || e.Validate() != nil {
			skipped++
			continue
		}
		emit(e)
		events++
	}
	return events, skipped, sc.Err()
}

// Docker's stream numbers in a multiplexed log frame.
const (
	streamStdin  = 0 // read back as stdout
	streamStdout = 1
	streamStderr = 2
)

// demuxStdout copies the stdout frames of a multiplexed stream to w and
// drops the others.
func demuxStdout(w io.Writer, r io.Reader) error {
	var hdr [8]byte
	buf := make([]byte, 0, 4096)
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		n := binary.BigEndian.Uint32(hdr[4:])
		if n > maxLogLine {
			return fmt.Errorf("log frame of %d bytes (more than %d)", n, maxLogLine)
		}
		buf = buf[:0]
		if cap(buf) < int(n) {
			buf = make([]byte, 0, n)
		}
		buf = buf[:n]
		if _, err := io.ReadFull(r, buf); err != nil {
			return err
		}
		switch hdr[0] {
		case streamStdin, streamStdout:
			if _, err := w.Write(buf); err != nil {
				return err
			}
		case streamStderr:
		default:
			return fmt.Errorf("log frame of unknown stream %d", hdr[0])
		}
	}
}
