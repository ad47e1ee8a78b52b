// Package asciicast records terminal sessions in the asciinema v2 format
// (https://docs.asciinema.org/manual/asciicast/v2/): a JSON header line,
// then one JSON array per event, [seconds, code, data], where code is "o"
// for what the terminal printed, "i" for what the user typed, "r" for a
// resize ("COLSxROWS") and "m" for a marker.
//
// Input is timestamped per read chunk, as it arrives from the client, so
// a recording keeps the keystroke timing that behavioural analytics need.
// Every interactive transport (ssh, telnet) records through the same
// Recorder; it knows nothing of either.
package asciicast

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// Event codes.
const (
	Output = "o"
	Input  = "i"
	Resize = "r"
	Marker = "m"
)

// DefaultMaxBytes is the cap on one recording, DECNET's 10 MiB.
const DefaultMaxBytes = 10 << 20

// TruncatedMarker is the label of the marker written when a recording
// reaches its cap; nothing follows it.
const TruncatedMarker = "truncated"

// Header is the first line of a recording.
type Header struct {
	Version   int               `json:"version"`
	Width     int               `json:"width"`
	Height    int               `json:"height"`
	Timestamp int64             `json:"timestamp"`
	Env       map[string]string `json:"env,omitempty"`
}

// Event is one line after the header.
type Event struct {
	Time float64 // seconds since the start
	Code string  // Output, Input, Resize or Marker
	Data string
}

// Recorder writes one recording. Its methods are safe for concurrent use
// (output and input are usually written from different goroutines) and
// never fail: once the destination fails or the cap is reached, later
// events are dropped and Truncated reports it.
type Recorder struct {
	mu        sync.Mutex
	w         io.Writer
	start     time.Time
	now       func() time.Time
	max       int64
	written   int64
	truncated bool
	failed    error
	pending   [2][]byte // an incomplete UTF-8 sequence at the end of the last o / i chunk
	buf       bytes.Buffer
}

// Options tune a Recorder; the zero value is DECNET's defaults.
type Options struct {
	MaxBytes int64            // cap on the recording, header included; DefaultMaxBytes when 0
	Now      func() time.Time // the clock; time.Now when nil
}

// New writes h (Version 2 and the start time are filled in when zero) to w
// and returns a Recorder for the events that follow.
func New(w io.Writer, h Header, o Options) *Recorder {
	r := &Recorder{w: w, now: o.Now, max: o.MaxBytes}
	if r.now == nil {
		r.now = time.Now
	}
	if r.max <= 0 {
		r.max = DefaultMaxBytes
	}
	r.start = r.now()
	if h.Version == 0 {
		h.Version = 2
	}
	if h.Timestamp == 0 {
		h.Timestamp = r.start.Unix()
	}
	line, _ := json.Marshal(h)
	r.mu.Lock()
	r.emit(append(line, '\n'))
	r.mu.Unlock()
	return r
}

// Started is when the recording began.
func (r *Recorder) Started() time.Time { return r.start }

// Output records bytes the terminal printed.
func (r *Recorder) Output(p []byte) { r.record(Output, p) }

// Input records bytes the user typed.
func (r *Recorder) Input(p []byte) { r.record(Input, p) }

// Resize records a new terminal size.
func (r *Recorder) Resize(cols, rows int) {
	r.record(Resize, []byte(strconv.Itoa(cols)+"x"+strconv.Itoa(rows)))
}

// Mark records a marker with a label.
func (r *Recorder) Mark(label string) { r.record(Marker, []byte(label)) }

func (r *Recorder) record(code string, p []byte) {
	if len(p) == 0 {
		return
	}
	t := r.now().Sub(r.start).Seconds()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.truncated || r.failed != nil {
		return
	}
	// asciicast data is text: carry a UTF-8 sequence split across two
	// chunks over to the next chunk of the same stream instead of mangling it.
	if code == Output || code == Input {
		i := 0
		if code == Input {
			i = 1
		}
		if len(r.pending[i]) > 0 {
			p = append(r.pending[i][:len(r.pending[i]):len(r.pending[i])], p...)
			r.pending[i] = nil
		}
		if cut := incompleteTail(p); cut > 0 {
			r.pending[i] = append([]byte(nil), p[len(p)-cut:]...)
			p = p[:len(p)-cut]
			if len(p) == 0 {
				return
			}
		}
	}
	r.buf.Reset()
	r.buf.WriteByte('[')
	r.buf.WriteString(strconv.FormatFloat(t, 'f', 6, 64))
	r.buf.WriteString(", \"")
	r.buf.WriteString(code)
	r.buf.WriteString("\", ")
	writeJSONString(&r.buf, p)
	r.buf.WriteString("]\n")
	line := r.buf.Bytes()
	// Keep room for the truncation marker.
	if r.written+int64(len(line))+64 > r.max {
		r.truncated = true
		r.buf.Reset()
		r.buf.WriteString("[" + strconv.FormatFloat(t, 'f', 6, 64) + ", \"m\", \"" + TruncatedMarker + "\"]\n")
		r.emit(r.buf.Bytes())
		return
	}
	r.emit(line)
	if r.buf.Cap() > 64<<10 { // do not keep a large buffer for an idle session
		r.buf = bytes.Buffer{}
	}
}

// emit writes one line; the caller holds mu.
func (r *Recorder) emit(line []byte) {
	n, err := r.w.Write(line)
	r.written += int64(n)
	if err != nil {
		r.failed = err
	}
}

// Bytes is how many bytes the recording holds so far.
func (r *Recorder) Bytes() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.written
}

// Truncated reports whether events were dropped at the cap.
func (r *Recorder) Truncated() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.truncated
}

// Err is the first error writing the recording, if any.
func (r *Recorder) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed
}

// Duration is the time since the recording began.
func (r *Recorder) Duration() time.Duration { return r.now().Sub(r.start) }

// Reader returns a reader over in that records every chunk it returns as
// input, timestamped when the read returns.
func (r *Recorder) Reader(in io.Reader) io.Reader { return &inputTap{r: r, in: in} }

// Writer returns a writer to out that records every write as output.
func (r *Recorder) Writer(out io.Writer) io.Writer { return &outputTap{r: r, out: out} }

type inputTap struct {
	r  *Recorder
	in io.Reader
}

func (t *inputTap) Read(p []byte) (int, error) {
	n, err := t.in.Read(p)
	if n > 0 {
		t.r.Input(p[:n])
	}
	return n, err
}

type outputTap struct {
	r   *Recorder
	out io.Writer
}

func (t *outputTap) Write(p []byte) (int, error) {
	n, err := t.out.Write(p)
	if n > 0 {
		t.r.Output(p[:n])
	}
	return n, err
}

// incompleteTail is the length of an unfinished UTF-8 sequence at the end
// of p (0 when p ends on a whole character or on bytes that can never be
// one).
func incompleteTail(p []byte) int {
	for i := 1; i <= 3 && i <= len(p); i++ {
		c := p[len(p)-i]
		if c < 0x80 {
			return 0
		}
		if c >= 0xC0 { // a lead byte: is its sequence complete?
			need := 2
			switch {
			case c >= 0xF0:
				need = 4
			case c >= 0xE0:
				need = 3
			}
			if need > i && c < 0xF8 {
				return i
			}
			return 0
		}
	}
	return 0
}

const hexDigits = "0123456789abcdef"

// writeJSONString writes p as a JSON string; bytes that are not UTF-8 turn
// into U+FFFD, as asciinema's own recorder does.
func writeJSONString(b *bytes.Buffer, p []byte) {
	b.WriteByte('"')
	for len(p) > 0 {
		c := p[0]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b.WriteByte('\\')
				b.WriteByte(c)
			case c == '\n':
				b.WriteString(`\n`)
			case c == '\r':
				b.WriteString(`\r`)
			case c == '\t':
				b.WriteString(`\t`)
			case c < 0x20 || c == 0x7f:
				b.WriteString(`\u00`)
				b.WriteByte(hexDigits[c>>4])
				b.WriteByte(hexDigits[c&0xf])
			default:
				b.WriteByte(c)
			}
			p = p[1:]
			continue
		}
		r, size := utf8.DecodeRune(p)
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteString(`\ufffd`)
		case r == '\u2028' || r == '\u2029':
			b.WriteString(`\u202`)
			b.WriteByte(hexDigits[r&0xf])
		default:
			b.Write(p[:size])
		}
		p = p[size:]
	}
	b.WriteByte('"')
}

// ErrFormat is returned by Parse for input that is not an asciicast v2
// recording.
var ErrFormat = errors.New("asciicast: not an asciicast v2 recording")

// maxParseLine bounds one line Parse accepts.
const maxParseLine = 1 << 20

// Parse reads a recording: its header and events. A line that is not a
// valid event ends parsing with an error naming it.
func Parse(rd io.Reader) (Header, []Event, error) {
	var h Header
	dec := newLineReader(rd)
	first, err := dec.next()
	if err != nil {
		return h, nil, ErrFormat
	}
	if err := json.Unmarshal(first, &h); err != nil || h.Version != 2 {
		return h, nil, ErrFormat
	}
	var evs []Event
	for n := 2; ; n++ {
		line, err := dec.next()
		if err == io.EOF {
			return h, evs, nil
		}
		if err != nil {
			return h, evs, err
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var raw []json.RawMessage
		if err := json.Unmarshal(line, &raw); err != nil || len(raw) != 3 {
			return h, evs, errors.New("asciicast: line " + strconv.Itoa(n) + ": not a [time, code, data] event")
		}
		var e Event
		if json.Unmarshal(raw[0], &e.Time) != nil || json.Unmarshal(raw[1], &e.Code) != nil ||
			json.Unmarshal(raw[2], &e.Data) != nil || e.Time < 0 {
			return h, evs, errors.New("asciicast: line " + strconv.Itoa(n) + ": bad event field")
		}
		evs = append(evs, e)
	}
}

type lineReader struct {
	r   io.Reader
	buf []byte
	eof bool
}

func newLineReader(r io.Reader) *lineReader { return &lineReader{r: r} }

func (l *lineReader) next() ([]byte, error) {
	for {
		if i := bytes.IndexByte(l.buf, '\n'); i >= 0 {
			line := l.buf[:i]
			l.buf = l.buf[i+1:]
			return line, nil
		}
		if l.eof {
			if len(l.buf) > 0 {
				line := l.buf
				l.buf = nil
				return line, nil
			}
			return nil, io.EOF
		}
		if len(l.buf) > maxParseLine {
			return nil, errors.New("asciicast: line longer than 1 MiB")
		}
		chunk := make([]byte, 32<<10)
		n, err := l.r.Read(chunk)
		l.buf = append(l.buf, chunk[:n]...)
		if err == io.EOF {
			l.eof = true
		} else if err != nil {
			return nil, err
		}
	}
}
