package telnet

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/honeypot/asciicast"
	"github.com/decnet-go/decnet/internal/honeypot/shell"
	"github.com/decnet-go/decnet/internal/persona"
)

// typeNegotiation is the event of what a client said about itself in the
// opening negotiation (terminal, window, environment, and the order of its
// answers, which tells one client program from another).
const typeNegotiation = "negotiation"

// failDelay is how long a refused login waits before "Login incorrect":
// login.defs' FAIL_DELAY of 3 s, with pam_faildelay's jitter on Debian.
// Tests shorten it.
var failDelay = 3 * time.Second

// loginTimeout is login(1)'s LOGIN_TIMEOUT: a dialogue that takes longer
// ends with "Login timed out after 60 seconds."
var loginTimeout = 60 * time.Second

// Sizes of what login(1) keeps of a line.
const (
	maxUserLen     = 256 // longer names are cut, as the tty's line buffer does
	maxPasswordLen = 512 // PAM_MAX_RESP_SIZE
)

// session is one telnet connection after accept.
type session struct {
	srv *server
	t   *tconn
	ctx context.Context
	p   *persona.Persona
	pts int
}

// run is the whole life of a connection: negotiation, login, shell.
func (s *session) run() {
	fl := s.srv.flavor
	if fl == flavorBusyBox {
		s.t.negotiateBusyBox()
	} else {
		s.t.negotiateDebian()
	}
	if s.srv.banner != "" {
		io.WriteString(shell.CRLF(s.t), s.srv.banner)
	} else if fl == flavorBusyBox {
		io.WriteString(s.t, busyboxIssue(s.p, issueNet(s.p), s.pts))
	} else {
		io.WriteString(s.t, hostInfo(s.p, s.pts))
	}
	if fl == flavorDebian {
		s.t.reofferEcho()
	}
	s.emitNegotiation()

	login, ok := s.login()
	if !ok {
		return
	}
	s.shell(login)
}

func (s *session) emitNegotiation() {
	info := s.t.snapshot()
	e := s.t.c.Event(typeNegotiation)
	e.Fields = map[string]any{"client_options": strings.Join(info.Trail, ",")}
	if info.Term != "" {
		e.Fields["term"] = info.Term
	}
	if info.got[optNAWS] {
		e.Fields["cols"], e.Fields["rows"] = info.Cols, info.Rows
	}
	if info.Speed != "" {
		e.Fields["tspeed"] = info.Speed
	}
	if info.Display != "" {
		e.Fields["display"] = info.Display
	}
	if len(info.Env) > 0 {
		keys := make([]string, 0, len(info.Env))
		for k := range info.Env {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for i, k := range keys {
			keys[i] = k + "=" + info.Env[k]
		}
		e.Fields["environ"] = strings.Join(keys, " ")
	}
	s.t.c.Emit(e)
}

// login runs login(1)'s dialogue until a password the persona accepts, the
// last allowed try, a timeout or the client leaving.
func (s *session) login() (persona.Login, bool) {
	fl := s.srv.flavor
	tries := 5 // shadow's LOGIN_RETRIES in Debian's login.defs
	if fl == flavorBusyBox {
		tries = 3 // BusyBox login gives up after three
	}
	timeout := time.AfterFunc(loginTimeout, func() {
		io.WriteString(s.t, fmt.Sprintf("\r\nLogin timed out after %d seconds.\r\n", int(loginTimeout.Seconds())))
		s.t.c.Close()
	})
	defer timeout.Stop()

	// A client that sent USER in NEW-ENVIRON (telnet -l root) has it
	// passed to login, which then asks only for the password (inetutils).
	preset := ""
	if fl == flavorDebian {
		preset = s.t.snapshot().Env["USER"]
	}
	prompt := s.p.Hostname + " login: "
	for try := 1; ; try++ {
		user := preset
		preset = ""
		for user == "" {
			io.WriteString(s.t, prompt)
			u, err := s.t.readLine(true, maxUserLen)
			if err != nil {
				return persona.Login{}, false
			}
			user = u
		}
		io.WriteString(s.t, "Password: ")
		pw, err := s.t.readLine(false, maxPasswordLen)
		if err != nil {
			s.emitAttempt(user, pw, false) // a password cut short is still a try
			return persona.Login{}, false
		}
		io.WriteString(s.t, "\r\n")
		l, ok := s.p.Accepts(user, pw)
		s.emitAttempt(user, pw, ok)
		if ok {
			timeout.Stop()
			return l, true
		}
		if !s.sleep(jitter(failDelay, fl)) {
			return persona.Login{}, false
		}
		io.WriteString(s.t, "\r\nLogin incorrect\r\n")
		if try >= tries {
			if fl == flavorDebian {
				io.WriteString(s.t, fmt.Sprintf("Maximum number of tries exceeded (%d)\r\n", tries))
			}
			return persona.Login{}, false
		}
	}
}

func (s *session) emitAttempt(user, pw string, ok bool) {
	outcome := event.OutcomeFailure
	if ok {
		outcome = event.OutcomeSuccess
	}
	e := s.t.c.Event(event.TypeLoginAttempt)
	e.Fields = map[string]any{"username": user, "method": "password"}
	if term := s.t.snapshot().Term; term != "" {
		e.Fields["term"] = term
	}
	e.Credential = event.NewCredential(user, event.SecretPlaintext, []byte(pw), outcome)
	s.t.c.Emit(e)
}

// jitter spreads d as pam_faildelay does on Debian (±25 %); BusyBox login
// sleeps exactly.
func jitter(d time.Duration, fl flavor) time.Duration {
	if d <= 0 || fl == flavorBusyBox {
		return d
	}
	return d*3/4 + rand.N(d/2+1)
}

// sleep waits d, or less if the decky stops; false if it stopped.
func (s *session) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-s.ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// shell runs the emulated login shell of an accepted login.
func (s *session) shell(login persona.Login) {
	c := s.t.c
	env := map[string]string{"TERM": "xterm"}
	if term := s.t.snapshot().Term; term != "" {
		env["TERM"] = strings.ToLower(term) // telnetd passes it lower-cased
	}
	sh := shell.New(shell.Config{
		Persona: s.p, Drops: s.srv.env.Drops, Login: login, Mode: shell.Interactive, TTY: true, Env: env,
		SrcIP: c.Src.Addr().Unmap().String(), DstIP: c.Dst.Addr().Unmap().String(),
	})
	// The session is recorded (asciicast v2, keystrokes timestamped as
	// they arrive) like an ssh shell: the input of BEHAVE.
	var in io.Reader = s.t
	var raw io.Writer = s.t
	info := s.t.snapshot()
	var rec *asciicast.Session
	if dir := s.srv.env.StateDir; dir != "" {
		var err error
		if rec, err = asciicast.StartSession(dir, env["TERM"], info.Cols, info.Rows); err != nil {
			e := c.Event(asciicast.TypeSessionSkipped)
			e.Fields = map[string]any{"reason": "shard_open_failed", "error": err.Error(), "username": login.User}
			c.Emit(e)
		} else {
			in, raw = rec.Reader(s.t), rec.Writer(s.t)
		}
	}
	commands := 0
	sh.Interact(in, shell.CRLF(raw), raw, func(line string) {
		commands++
		e := c.Event(event.TypeCommand)
		e.Fields = map[string]any{"command": line, "cwd": sh.Cwd(), "username": login.User}
		c.Emit(e)
	})
	if rec != nil {
		e := c.Event(asciicast.TypeSessionRecorded)
		e.Fields = rec.Finish("telnet")
		e.Fields["username"], e.Fields["commands"], e.Fields["tty"] = login.User, commands, true
		e.Fields["width"], e.Fields["height"] = info.Cols, info.Rows
		c.Emit(e)
	}
}
