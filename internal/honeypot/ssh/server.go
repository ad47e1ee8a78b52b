package ssh

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/honeypot"
	"github.com/decnet-go/decnet/internal/persona"
)

// Event types of this service besides the common ones.
const (
	typeHandshake     = "handshake"      // client version and HASSH
	typePubkeyOffered = "pubkey_offered" // a public key the client tried
	typeTunnel        = "tunnel_request" // port forwarding: ssh -L / -D / -W / -R
	typeSubsystem     = "subsystem"      // sftp and other subsystem requests
)

// authFailDelay is how long a refused login waits before the answer, like
// the ~2 s pam_faildelay of a stock OpenSSH with PAM (±25 %). Tests
// shorten it.
var authFailDelay = 2 * time.Second

const (
	loginGraceTime = 120 * time.Second // OpenSSH LoginGraceTime
	maxSessions    = 10                // OpenSSH MaxSessions
	maxAuthTries   = 6                 // OpenSSH MaxAuthTries
)

var errDenied = errors.New("permission denied")

// server holds what every connection of one decky shares.
type server struct {
	env   honeypot.Env
	base  ssh.ServerConfig
	fetch *fetcher
}

func newServer(env honeypot.Env, version string, keys hostKeys) (*server, error) {
	a := algorithmsFor(version, env.Persona.Distro.Family)
	f, err := newFetcher(env.Config)
	if err != nil {
		return nil, err
	}
	srv := &server{env: env, fetch: f}
	srv.base = ssh.ServerConfig{
		Config:        ssh.Config{KeyExchanges: a.kex, Ciphers: a.ciphers, MACs: a.macs},
		ServerVersion: version,
		MaxAuthTries:  maxAuthTries,
	}
	if err := keys.addTo(&srv.base, a); err != nil {
		return nil, err
	}
	return srv, nil
}

// conn is one client connection.
type conn struct {
	srv *server
	c   *honeypot.Conn
	ctx context.Context
	p   *persona.Persona

	mu            sync.Mutex
	clientVersion string
}

// handle serves one accepted connection until it closes.
func (srv *server) handle(ctx context.Context, c *honeypot.Conn) {
	c.EmitConnect()
	defer c.EmitDisconnect()
	cn := &conn{srv: srv, c: c, ctx: ctx, p: srv.env.Persona}
	sniff := &helloSniffer{Conn: c, report: cn.emitHandshake}
	cfg := srv.base // each connection gets its own callbacks
	cfg.PasswordCallback = cn.password
	cfg.KeyboardInteractiveCallback = cn.keyboardInteractive
	cfg.PublicKeyCallback = cn.publicKey

	grace := time.AfterFunc(loginGraceTime, func() { c.Close() })
	sconn, chans, reqs, err := ssh.NewServerConn(newOpenSSHWire(sniff), &cfg)
	grace.Stop()
	sniff.flush()
	if err != nil {
		return
	}
	defer sconn.Close()
	login, _ := cn.p.Account(sconn.Permissions.Extensions["login"])
	cn.serve(chans, reqs, login)
}

func (cn *conn) emitHandshake(h clientHello) {
	cn.mu.Lock()
	cn.clientVersion = h.Version
	cn.mu.Unlock()
	e := cn.c.Event(typeHandshake)
	e.Fields = map[string]any{"client_version": h.Version}
	if len(h.KEX) > 0 {
		e.Fields["hassh"] = h.hassh()
		e.Fields["hassh_algorithms"] = h.hasshAlgorithms()
	}
	cn.c.Emit(e)
}

func (cn *conn) password(meta ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
	return cn.login(meta, "password", pw)
}

func (cn *conn) keyboardInteractive(meta ssh.ConnMetadata, challenge ssh.KeyboardInteractiveChallenge) (*ssh.Permissions, error) {
	answers, err := challenge("", "", []string{"Password: "}, []bool{false})
	if err != nil {
		return nil, err
	}
	if len(answers) != 1 {
		return nil, errDenied
	}
	return cn.login(meta, "keyboard-interactive", []byte(answers[0]))
}

// login records an attempt and lets the client in only with a password the
// persona accepts.
func (cn *conn) login(meta ssh.ConnMetadata, method string, secret []byte) (*ssh.Permissions, error) {
	user := meta.User()
	l, accepted := cn.p.Accepts(user, string(secret))
	outcome := event.OutcomeFailure
	if accepted {
		outcome = event.OutcomeSuccess
	}
	e := cn.c.Event(event.TypeLoginAttempt)
	e.Fields = map[string]any{"username": user, "method": method, "client_version": string(meta.ClientVersion())}
	e.Credential = event.NewCredential(user, event.SecretPlaintext, secret, outcome)
	cn.c.Emit(e)
	if !accepted {
		cn.sleep(failDelay())
		return nil, errDenied
	}
	return &ssh.Permissions{Extensions: map[string]string{"login": l.User}}, nil
}

func (cn *conn) publicKey(meta ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
	e := cn.c.Event(typePubkeyOffered)
	e.Fields = map[string]any{
		"username": meta.User(), "key_type": key.Type(), "fingerprint": ssh.FingerprintSHA256(key),
		"client_version": string(meta.ClientVersion()),
	}
	cn.c.Emit(e)
	return nil, errDenied
}

// failDelay is authFailDelay with OpenSSH-like jitter.
func failDelay() time.Duration {
	d := authFailDelay
	if d <= 0 {
		return 0
	}
	return d*3/4 + rand.N(d/2+1)
}

func (cn *conn) sleep(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-cn.ctx.Done():
	case <-t.C:
	}
}

// serve answers the channels of an authenticated connection until it
// closes, and waits for every session it started.
func (cn *conn) serve(chans <-chan ssh.NewChannel, reqs <-chan *ssh.Request, login persona.Login) {
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { cn.globalRequests(reqs, login) })
	var open atomic.Int32
	for nc := range chans {
		switch nc.ChannelType() {
		case "session":
			if open.Load() >= maxSessions {
				nc.Reject(ssh.Prohibited, "open failed")
				continue
			}
			ch, creqs, err := nc.Accept()
			if err != nil {
				continue
			}
			open.Add(1)
			wg.Go(func() {
				defer open.Add(-1)
				newSession(cn, ch, login).serve(creqs)
			})
		case "direct-tcpip":
			var d struct {
				Host     string
				Port     uint32
				OrigHost string
				OrigPort uint32
			}
			e := cn.c.Event(typeTunnel)
			e.Fields = map[string]any{"kind": "direct-tcpip", "username": login.User}
			if ssh.Unmarshal(nc.ExtraData(), &d) == nil {
				e.Fields["dst_host"], e.Fields["dst_port"] = d.Host, int(d.Port)
				e.Fields["orig_host"], e.Fields["orig_port"] = d.OrigHost, int(d.OrigPort)
			}
			cn.c.Emit(e)
			// sshd with "AllowTcpForwarding no": the client prints
			// "open failed: administratively prohibited: open failed".
			nc.Reject(ssh.Prohibited, "open failed")
		case "direct-streamlocal@openssh.com":
			var d struct {
				Path      string
				Reserved  string
				Reserved2 uint32
			}
			e := cn.c.Event(typeTunnel)
			e.Fields = map[string]any{"kind": "direct-streamlocal", "username": login.User}
			if ssh.Unmarshal(nc.ExtraData(), &d) == nil {
				e.Fields["dst_path"] = d.Path
			}
			cn.c.Emit(e)
			nc.Reject(ssh.Prohibited, "open failed")
		default:
			nc.Reject(ssh.UnknownChannelType, "unknown channel type")
		}
	}
}

// globalRequests answers connection-level requests: remote forwarding
// (ssh -R) is reported and refused, as with "AllowTcpForwarding no";
// everything else is refused as OpenSSH refuses what it does not know.
func (cn *conn) globalRequests(reqs <-chan *ssh.Request, login persona.Login) {
	for req := range reqs {
		switch req.Type {
		case "tcpip-forward", "cancel-tcpip-forward":
			var f struct {
				BindAddr string
				BindPort uint32
			}
			e := cn.c.Event(typeTunnel)
			e.Fields = map[string]any{"kind": req.Type, "username": login.User}
			if ssh.Unmarshal(req.Payload, &f) == nil {
				e.Fields["bind_host"], e.Fields["bind_port"] = f.BindAddr, int(f.BindPort)
			}
			cn.c.Emit(e)
		case "streamlocal-forward@openssh.com", "cancel-streamlocal-forward@openssh.com":
			var f struct{ Path string }
			e := cn.c.Event(typeTunnel)
			e.Fields = map[string]any{"kind": strings.TrimSuffix(req.Type, "@openssh.com"), "username": login.User}
			if ssh.Unmarshal(req.Payload, &f) == nil {
				e.Fields["bind_path"] = f.Path
			}
			cn.c.Emit(e)
		}
		if req.WantReply {
			req.Reply(false, nil)
		}
	}
}
