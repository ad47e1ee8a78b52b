package main

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/decnet-go/decnet/internal/api"
	"github.com/decnet-go/decnet/internal/decky"
	"github.com/decnet-go/decnet/internal/engine/docker"
	"github.com/decnet-go/decnet/internal/node"
)

func upCmd() *cobra.Command {
	var cfg node.Config
	var logLevel string
	var fleetFile, subnet, gateway string
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Run everything in one process: deckies, bus, pipeline and API",
		Long: `up starts the embedded NATS bus (JetStream on disk), the store (SQLite in
--data-dir, or MySQL/MariaDB or PostgreSQL with --db), the
ingest pipeline, the API and the deckies, and runs until Ctrl-C or SIGTERM,
then shuts down without losing an event.

Deckies bind their own loopback addresses (127.42.0.11, …). A port that
cannot be bound (below 1024 without root, or taken) moves to port +
--port-offset; the startup summary shows where each service listens.

On the first start an admin account is created and its password printed
once (set DECNET_ADMIN_PASSWORD to choose it). Data stays in --data-dir.

Which deckies run: with --config, the fleet file's; without, the deckies
recorded in --data-dir by the last start, with the services and
configuration live operations (the API) left them with; on a fresh data
directory, the default fleet.

With --driver docker the deckies are containers of the docker driver (see
` + "`decnet deploy --help`" + `) on --network, each with its own address; this
process is their control plane: it deploys them, keeps them as desired
(a reconciler every 30 s restarts what died and removes containers no
decky owns), serves the live operations and deploys of the API with them,
and takes their events on its bus, which listens on the fleet network's
gateway (token-protected) unless --nats-listen says where. Containers
outlive this process; ` + "`decnet teardown --all`" + ` removes them.`,
		Example: `  decnet up
  decnet up --data-dir ./decnet-data --listen 127.0.0.1:9090
  decnet up --db 'postgres://decnet:secret@db.internal:5432/decnet?sslmode=verify-full'
  sudo decnet up --port-offset 0           # real ports only, fail otherwise
  decnet up --nats-listen 127.0.0.1:4222   # let other processes reach the bus
  decnet up --config fleet.ini             # deckies from a fleet file (loopback addresses)
  sudo decnet up --driver docker           # deckies as containers on a docker bridge
  sudo decnet up --driver docker --config fleet.ini --subnet 172.30.9.0/24
  decnet up --canary-http-listen 0.0.0.0:8088 --canary-http-base http://cdn.example.net:8088
  decnet up --fingerprints c2.csv            # operator's C2 fingerprint catalogue (R0030)`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := newLogger(logLevel)
			if err != nil {
				return err
			}
			cfg.Log = log
			if err := dockerUpFlags(&cfg, subnet, gateway); err != nil {
				return err
			}
			if fleetFile != "" {
				if cfg.Driver == "docker" {
					cfg.Fleet, err = loadDockerFleet(fleetFile, &cfg.Docker)
				} else {
					cfg.Fleet, err = loadLocalFleet(fleetFile)
				}
				if err != nil {
					return err
				}
			}
			cfg.Version = version
			cfg.AdminPassword = os.Getenv("DECNET_ADMIN_PASSWORD")
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			node.TuneGC()
			n, err := node.Start(ctx, cfg)
			if err != nil {
				return err
			}
			printSummary(cmd.OutOrStdout(), cfg, n)
			<-ctx.Done()
			fmt.Fprintln(cmd.OutOrStdout(), "\nshutting down: flushing events to the store…")
			sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := n.Shutdown(sctx); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "stopped cleanly")
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.DataDir, "data-dir", defaultDataDir(), "directory for the database, bus files, keys and secrets")
	f.StringVar(&cfg.DB, "db", "", "database DSN: sqlite:PATH, mysql://user:pass@host:3306/db or postgres://user:pass@host:5432/db (default <data-dir>/decnet.db)")
	f.StringVar(&cfg.Listen, "listen", "127.0.0.1:8080", "address of the API")
	f.IntVar(&cfg.PortOffset, "port-offset", 10000, "added to a decky port that cannot be bound (0: no fallback)")
	f.StringVar(&cfg.NATSURL, "nats-url", "", "use this external NATS server instead of the embedded one")
	f.StringVar(&cfg.NATSListen, "nats-listen", "", "open a TCP listener on the embedded NATS (host:port)")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	f.StringVar(&fleetFile, "config", "", "fleet file (INI or YAML; see docs/fleet.md); local driver: its deckies must be on loopback")
	f.StringVar(&cfg.Driver, "driver", "local", "what runs the deckies: local (this process) or docker (containers)")
	f.StringVar(&cfg.Docker.Network, "network", "bridge", "docker driver: network driver, bridge, macvlan or ipvlan")
	f.StringVar(&cfg.Docker.NetworkName, "network-name", docker.DefaultNetworkName, "docker driver: docker network of the fleet")
	f.StringVar(&subnet, "subnet", "", "docker driver: subnet of the deckies (CIDR); bridge: the network's, or a free 172.30.x.0/24")
	f.StringVar(&gateway, "gateway", "", "docker driver: gateway of the subnet (default its first address)")
	f.StringVar(&cfg.Docker.Parent, "parent", "", "docker driver: host NIC of a macvlan or ipvlan network")
	f.IntVar(&cfg.DeploymentLimit, "deployment-limit", api.DefaultDeploymentLimit, "most deckies one API deploy may start")
	f.StringVar(&cfg.RulesDir, "rules-dir", "", "directory of TTP rule files laid over the embedded ones; reloaded on change and on SIGHUP (see docs/ttp.md)")
	f.StringVar(&cfg.FingerprintsFile, "fingerprints", os.Getenv("DECNET_FINGERPRINTS_FILE"), "C2/tool fingerprint catalogue for rule R0030 (kind,value,label lines; env DECNET_FINGERPRINTS_FILE); reloaded on change and on SIGHUP (see docs/ttp.md)")
	f.StringVar(&cfg.MetricsListen, "metrics-listen", "", "also serve Prometheus /metrics without a token on this address (e.g. 127.0.0.1:9108)")
	f.StringVar(&cfg.CanaryHTTPListen, "canary-http-listen", os.Getenv("DECNET_CANARY_HTTP_LISTEN"),
		"canary tokens: where their URLs call home (default "+node.DefaultCanaryHTTPListen+"; off: no http tokens; env DECNET_CANARY_HTTP_LISTEN)")
	f.StringVar(&cfg.CanaryHTTPBase, "canary-http-base", os.Getenv("DECNET_CANARY_HTTP_BASE"),
		"canary tokens: the URL planted in bait, as attackers reach the listener (default http://<canary-http-listen>; env DECNET_CANARY_HTTP_BASE)")
	f.StringVar(&cfg.CanaryDNSListen, "canary-dns-listen", os.Getenv("DECNET_CANARY_DNS_LISTEN"),
		"canary tokens: UDP address of the DNS listener (default "+node.DefaultCanaryDNSListen+"; env DECNET_CANARY_DNS_LISTEN)")
	f.StringVar(&cfg.CanaryDNSZone, "canary-dns-zone", os.Getenv("DECNET_CANARY_DNS_ZONE"),
		"canary tokens: DNS zone delegated to the DNS listener; none: no dns tokens (env DECNET_CANARY_DNS_ZONE)")
	f.StringVar(&cfg.CanaryBaseline, "canary-baseline", os.Getenv("DECNET_CANARY_BASELINE"),
		"canary tokens planted on each new ssh/telnet decky (default "+node.DefaultCanaryBaseline+"; none: no baseline; env DECNET_CANARY_BASELINE)")
	f.StringVar(&cfg.ProbeAllow, "probe-allow", "", "let the active prober fingerprint attackers inside these networks (comma-separated CIDRs; default none, see docs/prober.md)")
	return cmd
}

// defaultDataDir follows the usual places: /var/lib/decnet for root,
// $XDG_DATA_HOME/decnet or ~/.local/share/decnet otherwise.
func defaultDataDir() string {
	if d := os.Getenv("DECNET_DATA_DIR"); d != "" {
		return d
	}
	if os.Geteuid() == 0 {
		return "/var/lib/decnet"
	}
	if x := os.Getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "decnet")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "share", "decnet")
	}
	return "decnet-data"
}

func printSummary(w io.Writer, cfg node.Config, n *node.Node) {
	fmt.Fprintf(w, "DECNET-Go %s is up\n\n", version)
	fmt.Fprintf(w, "  data dir   %s\n", cfg.DataDir)
	fmt.Fprintf(w, "  API        http://%s/api/v1\n", n.APIAddr)
	fmt.Fprintf(w, "  dashboard  http://%s/ui/\n", n.APIAddr)
	if a := n.Bus.ListenAddr(); a != "" {
		fmt.Fprintf(w, "  NATS       nats://%s\n", a)
	}
	if n.MetricsAddr != "" {
		fmt.Fprintf(w, "  metrics    http://%s/metrics (no token)\n", n.MetricsAddr)
	}
	if n.CanaryHTTPAddr != "" {
		fmt.Fprintf(w, "  canary     http://%s/c/<token> (http tokens)\n", n.CanaryHTTPAddr)
	}
	if n.CanaryDNSAddr != "" {
		fmt.Fprintf(w, "  canary     %s/udp, zone %s (dns tokens)\n", n.CanaryDNSAddr, cfg.CanaryDNSZone)
	}
	if n.AdminPassword != "" {
		fmt.Fprintf(w, "  admin      user \"admin\", password %q\n", n.AdminPassword)
		fmt.Fprintf(w, "             shown only this once; the first login must change it\n")
	}
	var notes []string
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\n  DECKY\tHOSTNAME\tSERVICE\tLISTENS ON\t")
	for _, r := range n.Deckies {
		for _, b := range r.Bindings {
			where := b.Addr
			if b.Err != nil {
				where = "NOT LISTENING: " + b.Err.Error()
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t\n", r.Decky.Name, r.Persona.Hostname, b.Service, where)
			if b.Fallback != "" {
				notes = append(notes, b.Fallback)
			}
		}
	}
	tw.Flush()
	if len(notes) > 0 {
		fmt.Fprintf(w, "\n  note: %d port(s) could not be bound as configured and moved by --port-offset %d,\n", len(notes), cfg.PortOffset)
		fmt.Fprintf(w, "        e.g. %s.\n", notes[0])
		fmt.Fprintf(w, "        Run as root (or grant CAP_NET_BIND_SERVICE) to use the real ports.\n")
	}
	fmt.Fprintf(w, "\n  try:  ssh -p %s root@%s\n", portOf(n, "ssh"), ipOf(n))
	fmt.Fprintf(w, "        curl -s -X POST http://%s/api/v1/auth/login -H 'Content-Type: application/json' -d '{\"username\":\"admin\",\"password\":\"…\"}'\n\n", n.APIAddr)
}

func portOf(n *node.Node, svc string) string {
	for _, r := range n.Deckies {
		for _, b := range r.Bindings {
			if b.Service == svc && b.Port != 0 {
				return fmt.Sprint(b.Port)
			}
		}
	}
	return "22"
}

func ipOf(n *node.Node) string {
	if len(n.Deckies) == 0 {
		return "127.0.0.1"
	}
	return n.Deckies[0].Decky.IP.String()
}

// dockerUpFlags checks the docker-only flags of up and parses them into cfg.
func dockerUpFlags(cfg *node.Config, subnet, gateway string) error {
	if cfg.Driver != "docker" {
		if subnet != "" || gateway != "" || cfg.Docker.Parent != "" || cfg.Docker.Network != "bridge" {
			return fmt.Errorf("--network, --subnet, --gateway and --parent need --driver docker")
		}
		return nil
	}
	var err error
	if subnet != "" {
		if cfg.Docker.Subnet, err = netip.ParsePrefix(subnet); err != nil {
			return fmt.Errorf("--subnet %q: %w", subnet, err)
		}
	}
	if gateway != "" {
		if cfg.Docker.Gateway, err = netip.ParseAddr(gateway); err != nil {
			return fmt.Errorf("--gateway %q: %w", gateway, err)
		}
	}
	return nil
}

// loadDockerFleet reads the fleet file of `up --driver docker`: its
// [general] network fills the flags not given; deckies without a LAN
// address get one from the fleet network when it is up.
func loadDockerFleet(path string, dc *node.DockerConfig) ([]decky.Decky, error) {
	f, err := decky.LoadFile(path, fleetCatalog())
	if err != nil {
		return nil, err
	}
	// The docker driver runs [custom-*] images too: no CheckRunnable.
	if !dc.Subnet.IsValid() {
		dc.Subnet = f.Network.Subnet
	}
	if !dc.Gateway.IsValid() {
		dc.Gateway = f.Network.Gateway
	}
	if dc.Parent == "" && dc.Network != "bridge" {
		dc.Parent = f.Network.Interface
	}
	return f.Deckies, nil
}
