// Command decnet is the one binary of DECNET-Go: it runs the honeypot fleet,
// the bus, the pipeline and the API (`decnet up`), and later every other role.
// This file only wires the CLI; the logic lives in internal/.
package main

import (
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	if err := rootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "decnet:", err)
		os.Exit(1)
	}
}

func rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "decnet",
		Short: "DECNET-Go: a honeypot deception network in one binary",
		Long: `DECNET-Go runs a fleet of fake hosts ("deckies") that look like real machines to
anyone who scans or attacks the network, and turns every interaction into
structured events: attackers, sessions, captured credentials and commands,
served by a REST API.`,
		Example: `  # everything in one process, with a default fleet of two deckies
  decnet up

  # keep data elsewhere and serve the API on another port
  decnet up --data-dir /var/lib/decnet --listen 127.0.0.1:9090`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(upCmd(), versionCmd())
	root.AddCommand(exportCmd()) // ATT&CK exports (issue 7)
	// docker driver (issue 3): deploy, teardown, status and the in-container runtime.
	root.AddCommand(deployCmd(), teardownCmd(), statusCmd(), deckyCmd())
	root.AddCommand(reconcileCmd())
	// end docker driver
	// fleet model (issue 3): the registries a fleet file draws from.
	root.AddCommand(servicesCmd(), archetypesCmd(), distrosCmd(), familiesCmd())
	// end fleet model
	return root
}

func versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print the version of this binary",
		Example: "  decnet version",
		Args:    cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(cmd.OutOrStdout(), versionString())
		},
	}
}

func versionString() string {
	s := "decnet " + version
	if bi, ok := debug.ReadBuildInfo(); ok {
		s += " (" + bi.GoVersion
		for _, kv := range bi.Settings {
			if kv.Key == "vcs.revision" && len(kv.Value) >= 12 {
				s += ", " + kv.Value[:12]
			}
		}
		s += ")"
	}
	return s
}

// newLogger logs to stderr at the named level.
func newLogger(level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(level))); err != nil {
		return nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", level)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l})), nil
}
