package main

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/decnet-go/decnet/internal/engine/runtime"
)

func deckyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "decky",
		Short: "Run inside a decky container (used by the docker driver)",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(deckyRunCmd())
	return cmd
}

func deckyRunCmd() *cobra.Command {
	var o runtime.Options
	var idle bool
	var logLevel string
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Serve the services of one decky in this process",
		Long: `run is the entry point of a decky container started by ` + "`decnet deploy`" + `.
It reads the decky from $` + runtime.EnvSpec + ` (base64 JSON) and the install
secret from $` + runtime.EnvSecret + ` (hex), listens on 0.0.0.0 at the
services' real ports, writes every event to stdout as an RFC 5424 line and,
with --nats-url, publishes it to the control process's bus. SIGTERM stops it
cleanly.

--idle only waits for SIGTERM: the decky's base container runs it to hold
the network namespace (IP address and OS sysctls) the services join.`,
		Example: `  DECNET_DECKY_SPEC=$(echo '{"name":"decky-01","ip":"10.0.0.5","services":["ssh"]}' | base64 -w0) \
  DECNET_INSTALL_SECRET=$(cat /var/lib/decnet/install.secret) \
    decnet decky run --service ssh --state-dir /state --drops /drops --nats-url nats://10.0.0.1:4222

  decnet decky run --idle`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if idle {
				return runtime.Idle(ctx)
			}
			log, err := newLogger(logLevel)
			if err != nil {
				return err
			}
			if o.Decky, err = runtime.DecodeSpec(os.Getenv(runtime.EnvSpec)); err != nil {
				return err
			}
			if o.Secret, err = runtime.DecodeSecret(os.Getenv(runtime.EnvSecret)); err != nil {
				return err
			}
			o.Log = log
			o.Stdout = cmd.OutOrStdout()
			return runtime.Run(ctx, o)
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&o.Services, "service", nil, "a service of the decky to run here (repeatable; default all)")
	f.StringVar(&o.NATSURL, "nats-url", "", "also publish events to this NATS server")
	f.StringVar(&o.StateDir, "state-dir", "/state", "root of the per-service state (host keys): <dir>/<decky>/<service>")
	f.StringVar(&o.Drops, "drops", "", "directory of the files dropped into the decky (read-only; the ssh shell shows them)")
	f.BoolVar(&idle, "idle", false, "only wait for SIGTERM (the base container)")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	return cmd
}
