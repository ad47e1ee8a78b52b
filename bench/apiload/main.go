// Command apiload is the API load benchmark of issue 5: it seeds a store
// with attackers and events through the store's batch writer, serves the
// real API over loopback, logs in, and drives read routes with many
// concurrent keep-alive connections, printing requests per second and
// latency percentiles per route.
//
//	go run ./bench/apiload                              # SQLite in a temp dir
//	go run ./bench/apiload --db mysql://u:p@127.0.0.1:3306/bench
//	go run ./bench/apiload --data /tmp/apiload --keep   # reuse a seeded SQLite file
//
// It is a program, not a test: `go test ./...` never runs it.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"golang.org/x/crypto/bcrypt"

	"github.com/decnet-go/decnet/internal/api"
	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/store"
)

func main() {
	var (
		dsn       = flag.String("db", "", "store DSN (default: SQLite under --data)")
		dataDir   = flag.String("data", "", "directory for the SQLite file (default: a temp dir, removed at exit)")
		keep      = flag.Bool("keep", false, "keep --data and reuse a store that is already seeded")
		attackers = flag.Int("attackers", 100_000, "attacker addresses to seed")
		events    = flag.Int("events", 1_000_000, "events to seed")
		conns     = flag.Int("conns", 256, "concurrent keep-alive connections")
		duration  = flag.Duration("duration", 10*time.Second, "how long each route is driven")
		warmup    = flag.Duration("warmup", 2*time.Second, "load before the measured run of each route")
		bust      = flag.Bool("bust", false, "make every request's query unique (adds &nocache=N), so no page is served from the API's page cache")
		cpuprof   = flag.String("cpuprofile", "", "write a CPU profile of the measured runs (server and client) to this file")
		routes    = flag.String("routes", "/api/v1/attackers?limit=50,/api/v1/logs?limit=100", "comma-separated paths to drive")
	)
	flag.Parse()
	ctx := context.Background()

	if *dsn == "" {
		dir := *dataDir
		if dir == "" {
			d, err := os.MkdirTemp("", "apiload-")
			if err != nil {
				log.Fatal(err)
			}
			dir = d
		}
		if !*keep {
			defer os.RemoveAll(dir)
		}
		*dsn = "sqlite:" + filepath.Join(dir, "decnet.db")
	}
	st, err := store.Open(ctx, *dsn)
	if err != nil {
		log.Fatalf("open store: %v", err)
	}
	defer st.Close()

	stats, err := st.Stats(ctx)
	if err != nil {
		log.Fatal(err)
	}
	if stats.Events >= *events && *keep {
		fmt.Printf("store already holds %d events; not seeding\n", stats.Events)
	} else {
		start := time.Now()
		if err := seed(ctx, st, *attackers, *events); err != nil {
			log.Fatalf("seed: %v", err)
		}
		fmt.Printf("seeded %d attackers, %d events in %s\n", *attackers, *events, time.Since(start).Round(time.Millisecond))
	}

	base, stop := serve(st)
	defer stop()
	token, err := login(base, st)
	if err != nil {
		log.Fatalf("login: %v", err)
	}

	if *cpuprof != "" {
		f, err := os.Create(*cpuprof)
		if err != nil {
			log.Fatal(err)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	fmt.Printf("GOMAXPROCS=%d conns=%d duration=%s dialect=%s\n", runtime.GOMAXPROCS(0), *conns, *duration, st.Dialect())
	fmt.Printf("%-32s %10s %10s %9s %9s %9s %9s %7s\n", "route", "requests", "req/s", "p50", "p95", "p99", "max", "errors")
	for _, path := range strings.Split(*routes, ",") {
		r := drive(base+path, token, *conns, *warmup, *duration, *bust)
		fmt.Printf("%-32s %10d %10.0f %9s %9s %9s %9s %7d\n", path, r.n, r.rps, r.p(50), r.p(95), r.p(99), r.p(100), r.errors)
	}
}

// seed writes events in batches through store.PrepareBatch and Write, the
// ingest path's own writer: each attacker gets events/attackers events
// spread over its sessions, deckies and services, some with credentials and
// commands, timestamps over the last 30 days.
func seed(ctx context.Context, st *store.Store, attackers, events int) error {
	const batchSize = 5000
	services := []string{"ssh", "http", "ftp", "smb", "telnet", "mysql", "rdp", "smtp"}
	types := []string{event.TypeConnect, event.TypeLoginAttempt, event.TypeCommand, event.TypeDisconnect}
	now := time.Now().UTC()
	batches := make(chan *store.Batch, 4)
	errc := make(chan error, 1)
	go func() {
		defer close(batches)
		evs := make([]event.Event, 0, batchSize)
		for i := range events {
			a := i % attackers
			ip := fmt.Sprintf("10.%d.%d.%d", a>>16&255, a>>8&255, a&255)
			svc := services[(i/attackers)%len(services)]
			decky := fmt.Sprintf("decky-%02d", (a+i/attackers)%20)
			typ := types[(i/attackers)%len(types)]
			ev := event.Event{ID: event.NewID(), Time: now.Add(-time.Duration(events-i) * 2 * time.Second), Decky: decky,
				Service: svc, Type: typ, SrcIP: ip, SrcPort: 40000 + a%20000, DstIP: "192.0.2.10", DstPort: 22, Proto: "tcp",
				Session: fmt.Sprintf("s-%d-%d", a, i/attackers/4)}
			switch typ {
			case event.TypeLoginAttempt:
				ev.Credential = event.NewCredential("root", event.SecretPlaintext, []byte(fmt.Sprintf("pw%d", i%5000)), event.OutcomeFailure)
			case event.TypeCommand:
				ev.Fields = map[string]any{"command": "uname -a", "username": "root"}
			}
			evs = append(evs, ev)
			if len(evs) == batchSize || i == events-1 {
				b, err := store.PrepareBatch(evs)
				if err != nil {
					errc <- err
					return
				}
				select {
				case batches <- b:
				case <-ctx.Done():
					return
				}
				evs = make([]event.Event, 0, batchSize)
			}
		}
	}()
	written, last := 0, time.Now()
	for b := range batches {
		res, err := st.Write(ctx, b)
		if err != nil {
			return err
		}
		written += res.Inserted
		if time.Since(last) > 5*time.Second {
			fmt.Printf("  seeded %d/%d events\n", written, events)
			last = time.Now()
		}
	}
	select {
	case err := <-errc:
		return err
	default:
	}
	return nil
}

// serve runs the API on a loopback port and returns its base URL.
func serve(st *store.Store) (string, func()) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	h := api.New(api.Config{JWTSecret: []byte(uuid.NewString() + uuid.NewString()), Version: "apiload",
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}, st)
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), func() { srv.Close() }
}

// login creates a viewer (if needed) and returns its access token.
func login(base string, st *store.Store) (string, error) {
	const name, password = "apiload", "apiload-password-1"
	hash, err := bcrypt.GenerateFromPassword([]byte(password), 12)
	if err != nil {
		return "", err
	}
	err = st.CreateUser(context.Background(), store.User{UUID: uuid.NewString(), Username: name, PasswordHash: string(hash), Role: api.RoleViewer})
	if err != nil && !errors.Is(err, store.ErrConflict) {
		return "", err
	}
	resp, err := http.Post(base+"/api/v1/auth/login", "application/json",
		strings.NewReader(fmt.Sprintf(`{"username":%q,"password":%q}`, name, password)))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.AccessToken == "" {
		return "", fmt.Errorf("login answered %s", resp.Status)
	}
	return out.AccessToken, nil
}

// result is what one route's run measured.
type result struct {
	n, errors int
	rps       float64
	lat       []time.Duration // sorted
}

func (r result) p(q int) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	i := min(len(r.lat)-1, (len(r.lat)*q)/100)
	return r.lat[i].Round(10 * time.Microsecond)
}

// drive sends GET url on conns keep-alive connections, each a worker that
// sends its next request when the last answer is read: a warm-up, then
// the measured duration.
func drive(url, token string, conns int, warmup, d time.Duration, bust bool) result {
	tr := &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, IdleConnTimeout: time.Minute}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	var errs, seq atomic.Int64
	lats := make([][]time.Duration, conns)
	var wg sync.WaitGroup
	start := time.Now()
	measureFrom, end := start.Add(warmup), start.Add(warmup+d)
	for w := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodGet, url, nil)
			req.Header.Set("Authorization", "Bearer "+token)
			for {
				t0 := time.Now()
				if t0.After(end) {
					return
				}
				if bust {
					req, _ = http.NewRequest(http.MethodGet, fmt.Sprintf("%s&nocache=%d", url, seq.Add(1)), nil)
					req.Header.Set("Authorization", "Bearer "+token)
				}
				resp, err := client.Do(req)
				ok := err == nil && resp.StatusCode == http.StatusOK
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				if !t0.Before(measureFrom) {
					lats[w] = append(lats[w], time.Since(t0))
					if !ok {
						errs.Add(1)
					}
				}
			}
		}()
	}
	wg.Wait()
	var all []time.Duration
	for _, l := range lats {
		all = append(all, l...)
	}
	slices.Sort(all)
	return result{n: len(all), errors: int(errs.Load()), rps: float64(len(all)) / d.Seconds(), lat: all}
}
