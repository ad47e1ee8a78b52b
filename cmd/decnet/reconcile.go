package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/decnet-go/decnet/internal/engine/docker"
	"github.com/decnet-go/decnet/internal/secret"
)

func reconcileCmd() *cobra.Command {
	var (
		df       dockerFlags
		dataDir  string
		once     bool
		asJSON   bool
		interval time.Duration
	)
	cmd := &cobra.Command{
		Use:   "reconcile",
		Short: "Repair drift between the deployed fleet and its docker containers",
		Long: `reconcile compares the deckies deployed on a docker network (their spec
files in the data directory, written by ` + "`decnet deploy`" + ` and the live
operations) with the containers docker has, and repairs the drift: a missing
or stopped base container is recreated or started, then the decky's services
with it; a missing or stopped service container is recreated or started; the
container of a service no longer in the decky's spec is removed.

It then reaps: containers labelled for the network that no deployed decky
owns (e.g. a decky whose spec file was deleted) are removed.

Each pass prints one line per repair and per reaped container. Without
--once it runs every --interval until Ctrl-C; a pass that fails (docker
unreachable) is reported and the next one tries again. If docker does not
answer, nothing is changed.`,
		Example: `  # one pass, then exit
  sudo decnet reconcile --once

  # one pass as JSON (per decky: state before and after, repairs; reaped containers)
  sudo decnet reconcile --once --json

  # keep the fleet on network decnet_lan repaired, every 10 seconds
  sudo decnet reconcile --interval 10s --network-name decnet_lan --data-dir /var/lib/decnet`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if asJSON && !once {
				return errors.New("--json needs --once")
			}
			if interval <= 0 {
				return fmt.Errorf("--interval %s: must be positive", interval)
			}
			// The secret must already exist: a new one would not match the fleet's.
			if _, err := os.Stat(filepath.Join(dataDir, secret.InstallFile)); err != nil {
				return fmt.Errorf("--data-dir %s: no %s (was the fleet deployed from it?): %w", dataDir, secret.InstallFile, err)
			}
			sec, err := secret.LoadOrCreate(dataDir, secret.InstallFile)
			if err != nil {
				return err
			}
			d, err := df.driver()
			if err != nil {
				return err
			}
			defer d.Close()
			d.Live = docker.DeployOptions{DataDir: dataDir, InstallSecret: sec}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			out := cmd.OutOrStdout()
			if once {
				rep, reap, err := reconcilePass(ctx, d)
				if asJSON {
					enc := json.NewEncoder(out)
					enc.SetIndent("", "  ")
					if jerr := enc.Encode(struct {
						Reconcile docker.Report     `json:"reconcile"`
						Reap      docker.ReapReport `json:"reap"`
						Error     string            `json:"error,omitempty"`
					}{rep, reap, errString(err)}); jerr != nil {
						return jerr
					}
				} else {
					printPass(out, rep, reap)
				}
				return err
			}
			t := time.NewTicker(interval)
			defer t.Stop()
			for {
				rep, reap, err := reconcilePass(ctx, d)
				printPass(out, rep, reap)
				if err != nil && ctx.Err() == nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "%s  reconcile: %v\n", time.Now().Format(time.TimeOnly), err)
				}
				select {
				case <-ctx.Done():
					return nil
				case <-t.C:
				}
			}
		},
	}
	df.add(cmd)
	f := cmd.Flags()
	f.StringVar(&dataDir, "data-dir", defaultDataDir(), "data directory the fleet was deployed from (install.secret, deckies/)")
	f.BoolVar(&once, "once", false, "run one pass and exit")
	f.BoolVar(&asJSON, "json", false, "with --once: print the pass as JSON")
	f.DurationVar(&interval, "interval", 30*time.Second, "time between passes")
	return cmd
}

// reconcilePass runs Reconcile then Reap. Docker unreachable stops it
// before anything changes.
func reconcilePass(ctx context.Context, d *docker.Driver) (docker.Report, docker.ReapReport, error) {
	if err := d.Ping(ctx); err != nil {
		return docker.Report{Network: d.NetworkName}, docker.ReapReport{Network: d.NetworkName}, err
	}
	rep, rerr := d.Reconcile(ctx)
	reap, perr := d.Reap(ctx)
	return rep, reap, errors.Join(rerr, perr)
}

func printPass(w io.Writer, rep docker.Report, reap docker.ReapReport) {
	ts := time.Now().Format(time.TimeOnly)
	for _, dr := range rep.Deckies {
		for _, r := range dr.Repairs {
			fmt.Fprintf(w, "%s  %s: %s\n", ts, dr.Name, r)
		}
		if len(dr.Repairs) > 0 || dr.Error != "" {
			fmt.Fprintf(w, "%s  %s: %s -> %s", ts, dr.Name, dr.Before, dr.After)
			if dr.Error != "" {
				fmt.Fprintf(w, " (error: %s)", dr.Error)
			}
			fmt.Fprintln(w)
		}
	}
	for _, r := range reap.Removed {
		fmt.Fprintf(w, "%s  reaped %s (decky %s, %s)", ts, r.Container, r.Decky, r.Role)
		if r.Error != "" {
			fmt.Fprintf(w, ": %s", r.Error)
		}
		fmt.Fprintln(w)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
