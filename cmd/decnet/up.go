package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/decnet-go/decnet/internal/node"
)

func upCmd() *cobra.Command {
	var cfg node.Config
	var logLevel string
	var fleetFile string // fleet model (issue 3)
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Run everything in one process: deckies, bus, pipeline and API",
		Long: `up starts the embedded NATS bus (JetStream on disk), the SQLite store, the
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
directory, the default fleet.`,
		Example: `  decnet up
  decnet up --data-dir ./decnet-data --listen 127.0.0.1:9090
  sudo decnet up --port-offset 0           # real ports only, fail otherwise
  decnet up --nats-listen 127.0.0.1:4222   # let other processes reach the bus
  decnet up --config fleet.ini             # deckies from a fleet file (loopback addresses)`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := newLogger(logLevel)
			if err != nil {
				return err
			}
			cfg.Log = log
			// fleet model (issue 3): deckies from a fleet file.
			if fleetFile != "" {
				if cfg.Fleet, err = loadLocalFleet(fleetFile); err != nil {
					return err
				}
			}
			// end fleet model
			cfg.Version = version
			cfg.AdminPassword = os.Getenv("DECNET_ADMIN_PASSWORD")
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
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
	f.StringVar(&cfg.Listen, "listen", "127.0.0.1:8080", "address of the API")
	f.IntVar(&cfg.PortOffset, "port-offset", 10000, "added to a decky port that cannot be bound (0: no fallback)")
	f.StringVar(&cfg.NATSURL, "nats-url", "", "use this external NATS server instead of the embedded one")
	f.StringVar(&cfg.NATSListen, "nats-listen", "", "open a TCP listener on the embedded NATS (host:port)")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	f.StringVar(&fleetFile, "config", "", "fleet file (INI or YAML; see docs/fleet.md); its deckies must be on loopback") // fleet model (issue 3)
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
	if a := n.Bus.ListenAddr(); a != "" {
		fmt.Fprintf(w, "  NATS       nats://%s\n", a)
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
