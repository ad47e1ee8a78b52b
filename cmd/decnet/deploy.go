package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/decnet-go/decnet/internal/decky"
	"github.com/decnet-go/decnet/internal/engine/docker"
	"github.com/decnet-go/decnet/internal/honeypot"
	"github.com/decnet-go/decnet/internal/honeypot/builtin"
	"github.com/decnet-go/decnet/internal/secret"
)

// dockerFlags are the flags every docker-driver command shares.
type dockerFlags struct {
	networkName string
}

func (f *dockerFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.networkName, "network-name", docker.DefaultNetworkName, "docker network of the fleet")
}

func (f *dockerFlags) driver() (*docker.Driver, error) {
	d, err := docker.New()
	if err != nil {
		return nil, err
	}
	d.NetworkName = f.networkName
	return d, nil
}

// connected is driver() for commands that need the daemon at once: it
// fails with the daemon's error when docker does not answer.
func (f *dockerFlags) connected(ctx context.Context) (*docker.Driver, error) {
	d, err := f.driver()
	if err != nil {
		return nil, err
	}
	if err := d.Ping(ctx); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

func deployCmd() *cobra.Command {
	var (
		df              dockerFlags
		o               docker.DeployOptions
		config, driver  string
		subnet, gateway string
		ipStart         string
		services        []string
		deckies         int
		dryRun, replace bool
		apiURL          string
		gen             decky.GenerateOptions
	)
	cmd := &cobra.Command{
		Use:   "deploy",
		Short: "Deploy the fleet as docker containers",
		Long: `deploy builds the decky image (FROM scratch + this binary, once per build of
decnet), creates the fleet's docker network and, per decky, a base container
that owns the decky's IP and OS personality plus one container per service.
Running it again changes only what differs; deckies no longer in the fleet
are removed.

The fleet comes from --config (an INI or YAML fleet file) or from --deckies
and --services: decky-01…NN with addresses taken in order from --subnet.

Networks: bridge is reachable from this host only (trials, tests); macvlan
puts every decky on the LAN of --parent with its own MAC; ipvlan (L2) uses
the parent's MAC, for Wi-Fi. Service containers publish their events to
--nats-url (e.g. the bus of ` + "`decnet up --nats-listen`" + `) and always log them to
stdout (docker logs) as RFC 5424 lines.`,
		Example: `  # three deckies with ssh and http on a bridge, events to the local bus
  decnet deploy --deckies 3 --services ssh,http --subnet 172.30.5.0/24 \
    --nats-url nats://172.30.5.1:4222

  # on the LAN behind eth0, each decky with its own MAC
  sudo decnet deploy --network macvlan --parent eth0 --subnet 192.168.1.0/24 \
    --gateway 192.168.1.1 --deckies 5 --services ssh

  # five deckies with varied services and distros
  decnet deploy --deckies 5 --randomize-services --randomize-distros --subnet 172.30.5.0/24

  # what would be created, as a compose file; nothing is touched
  decnet deploy --deckies 2 --services ssh --subnet 172.30.5.0/24 --dry-run

  # through a running control plane (decnet up), which records and keeps them
  DECNET_API_PASSWORD=… decnet deploy --api http://127.0.0.1:8080 --config fleet.ini`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if apiURL != "" {
				return deployThroughAPI(cmd, apiURL, config, deckies, services, replace)
			}
			if driver != "docker" {
				return fmt.Errorf("--driver %q: only docker deploys containers (the local driver runs with `decnet up`)", driver)
			}
			var err error
			if subnet != "" {
				if o.Subnet, err = netip.ParsePrefix(subnet); err != nil {
					return fmt.Errorf("--subnet %q: %w", subnet, err)
				}
			}
			if gateway != "" {
				if o.Gateway, err = netip.ParseAddr(gateway); err != nil {
					return fmt.Errorf("--gateway %q: %w", gateway, err)
				}
			}
			d, err := df.driver()
			if err != nil {
				return err
			}
			defer d.Close()
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			out := cmd.OutOrStdout()
			if !dryRun && o.Subnet == (netip.Prefix{}) && config == "" && (o.Network == "" || o.Network == "bridge") {
				if err := d.Ping(ctx); err != nil {
					return err
				}
				if o.Subnet, err = d.FreeSubnet(ctx); err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "  › no --subnet: using %s\n", o.Subnet)
			}
			var fleet []decky.Decky
			switch {
			case config != "" && cmd.Flags().Changed("deckies"):
				return errors.New("--config and --deckies exclude each other")
			case config != "":
				if fleet, err = loadFleetFile(config, &o); err != nil {
					return err
				}
			default:
				if gen, err = generateOptions(cmd, gen, services); err != nil {
					return err
				}
				lan := decky.Network{Subnet: o.Subnet, Gateway: o.Gateway}
				if ipStart != "" {
					if lan.IPStart, err = netip.ParseAddr(ipStart); err != nil {
						return fmt.Errorf("--ip-start %q: %w", ipStart, err)
					}
				}
				if fleet, err = decky.GenerateOn(deckies, gen, lan); err != nil {
					return err
				}
			}
			if o.InstallSecret, err = secret.LoadOrCreate(o.DataDir, secret.InstallFile); err != nil {
				return err
			}
			if dryRun {
				y, err := d.DryRun(fleet, o)
				if err != nil {
					return err
				}
				_, err = out.Write(y)
				return err
			}
			if err := d.Ping(ctx); err != nil {
				return err
			}
			o.Progress = func(s string) { fmt.Fprintf(out, "  › %s\n", s) }
			if err := d.Deploy(ctx, fleet, o); err != nil {
				return err
			}
			fmt.Fprintln(out)
			st, err := d.Status(ctx)
			if err != nil {
				return err
			}
			printStatus(out, st)
			return nil
		},
	}
	df.add(cmd)
	f := cmd.Flags()
	f.StringVar(&config, "config", "", "fleet file (INI or YAML)")
	f.StringVar(&driver, "driver", "docker", "engine driver (docker)")
	f.StringVar(&o.Network, "network", "bridge", "network driver: bridge, macvlan or ipvlan")
	f.StringVar(&subnet, "subnet", "", "subnet of the deckies (CIDR); bridge: a free 172.30.x.0/24 when empty")
	f.StringVar(&gateway, "gateway", "", "gateway of the subnet (default its first address)")
	f.StringVar(&ipStart, "ip-start", "", "first decky address (without --config; default the subnet's first free one)")
	f.StringVar(&o.Parent, "parent", "", "host NIC of a macvlan or ipvlan network (e.g. eth0)")
	f.StringVar(&o.NATSURL, "nats-url", "", "NATS server the deckies publish events to (reachable from the containers)")
	f.StringVar(&o.DataDir, "data-dir", defaultDataDir(), "data directory: install.secret and the deckies' state (host keys)")
	f.IntVar(&deckies, "deckies", 2, "number of deckies (without --config)")
	f.StringSliceVar(&services, "services", []string{"ssh", "http"}, "services of each decky (without --config)")
	f.StringVar(&gen.Archetype, "archetype", "", "build every decky from this archetype (services, distros, nmap_os; see decnet archetypes)")
	f.BoolVar(&gen.RandomServices, "randomize-services", false, "give each decky 1 to 3 services drawn from every service, no two deckies alike while possible")
	f.StringSliceVar(&gen.Distros, "distro", nil, "persona distros to hand out in turn (see decnet distros)")
	f.BoolVar(&gen.RandomDistros, "randomize-distros", false, "draw each decky's distro at random")
	f.BoolVar(&dryRun, "dry-run", false, "print an equivalent docker compose file and touch nothing")
	f.StringVar(&apiURL, "api", os.Getenv("DECNET_API"), apiHelp)
	f.BoolVar(&replace, "replace", false, "with --api: the file replaces the whole fleet (deckies not in it are removed)")
	return cmd
}

// deployThroughAPI is deploy --api: the fleet file (or the --deckies and
// --services fleet) goes to the control plane, which allocates addresses
// on its network and deploys with its driver.
func deployThroughAPI(cmd *cobra.Command, apiURL, config string, n int, services []string, replace bool) error {
	if cmd.Flags().Changed("dry-run") {
		return errors.New("--dry-run works without --api only (it needs no control plane)")
	}
	for _, f := range []string{"network", "subnet", "gateway", "parent", "nats-url", "driver"} {
		if cmd.Flags().Changed(f) {
			return fmt.Errorf("--%s: with --api the control plane decides it (see decnet up --help)", f)
		}
	}
	name, content := config, []byte(nil)
	if config != "" {
		if cmd.Flags().Changed("deckies") {
			return errors.New("--config and --deckies exclude each other")
		}
		var err error
		if content, err = os.ReadFile(config); err != nil {
			return err
		}
	} else {
		var b strings.Builder
		for i := 1; i <= n; i++ {
			fmt.Fprintf(&b, "[decky-%02d]\nservices=%s\n", i, strings.Join(services, ","))
		}
		name, content = "flags.ini", []byte(b.String())
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	c, err := newAPIClient(ctx, apiURL)
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if err := c.deploy(ctx, out, name, content, replace); err != nil {
		return err
	}
	rows, err := c.deckies(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintln(out)
	printDeckyRows(out, rows)
	return nil
}

func teardownCmd() *cobra.Command {
	var df dockerFlags
	var all bool
	var ids []string
	var apiURL string
	cmd := &cobra.Command{
		Use:   "teardown",
		Short: "Remove deployed deckies (containers; with --all the network too)",
		Long: `teardown removes the containers of the named deckies, or with --all every
container of the fleet and its network. The deckies' state (SSH host keys)
stays in the data directory, so a redeployed decky keeps its identity.`,
		Example: `  decnet teardown --id decky-02
  decnet teardown --all
  decnet teardown --api http://127.0.0.1:8080 --id decky-02   # through decnet up`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if all == (len(ids) > 0) {
				return errors.New("say what to remove: --all, or --id NAME (repeatable)")
			}
			if apiURL != "" {
				c, err := newAPIClient(cmd.Context(), apiURL)
				if err != nil {
					return err
				}
				var names []string
				if !all {
					names = ids
				}
				return c.teardown(cmd.Context(), cmd.OutOrStdout(), names)
			}
			d, err := df.connected(cmd.Context())
			if err != nil {
				return err
			}
			defer d.Close()
			var names []string
			if !all {
				names = ids
			}
			if err := d.Teardown(cmd.Context(), names); err != nil {
				return err
			}
			if all {
				fmt.Fprintf(cmd.OutOrStdout(), "removed every decky and the network %s\n", df.networkName)
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "removed %s\n", strings.Join(ids, ", "))
			}
			return nil
		},
	}
	df.add(cmd)
	cmd.Flags().BoolVar(&all, "all", false, "remove every decky and the network")
	cmd.Flags().StringSliceVar(&ids, "id", nil, "name of a decky to remove (repeatable)")
	cmd.Flags().StringVar(&apiURL, "api", os.Getenv("DECNET_API"), apiHelp)
	return cmd
}

func statusCmd() *cobra.Command {
	var df dockerFlags
	var asJSON bool
	var apiURL string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the deployed deckies and the state of their containers",
		Long: `status lists every decky of the fleet with its address and the state of its
base and service containers: running (all up), degraded (some services
down) or failed (the base, or every service, down).`,
		Example: `  decnet status
  decnet status --json | jq '.[] | select(.state != "running")'
  decnet status --api http://127.0.0.1:8080   # as the control plane records it`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if apiURL != "" {
				return statusThroughAPI(cmd, apiURL, asJSON)
			}
			d, err := df.connected(cmd.Context())
			if err != nil {
				return err
			}
			defer d.Close()
			st, err := d.Status(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				if st == nil {
					st = []docker.DeckyStatus{}
				}
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(st)
			}
			if len(st) == 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "no decky is deployed on network %s\n", df.networkName)
				return nil
			}
			printStatus(cmd.OutOrStdout(), st)
			return nil
		},
	}
	df.add(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().StringVar(&apiURL, "api", os.Getenv("DECNET_API"), apiHelp)
	return cmd
}

func statusThroughAPI(cmd *cobra.Command, apiURL string, asJSON bool) error {
	c, err := newAPIClient(cmd.Context(), apiURL)
	if err != nil {
		return err
	}
	rows, err := c.deckies(cmd.Context())
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(cmd.OutOrStdout())
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	printDeckyRows(cmd.OutOrStdout(), rows)
	return nil
}

func printStatus(w io.Writer, st []docker.DeckyStatus) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DECKY\tIP\tHOSTNAME\tSTATE\tBASE\tSERVICES")
	for _, d := range st {
		var svcs []string
		for _, s := range d.Services {
			svcs = append(svcs, s.Service+":"+s.State)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", d.Name, d.IP, d.Hostname, d.State, d.Base.State, strings.Join(svcs, " "))
	}
	tw.Flush()
}

// generateOptions completes the flags' fleet options: the services of
// --services unless an archetype or --randomize-services decides, and the
// pool random services are drawn from — every built-in service, one per
// port (smtp and smtp_relay both want port 25).
func generateOptions(cmd *cobra.Command, gen decky.GenerateOptions, services []string) (decky.GenerateOptions, error) {
	explicit := cmd.Flags().Changed("services")
	switch {
	case explicit && gen.Archetype != "":
		return gen, errors.New("--services and --archetype exclude each other (the archetype gives the services)")
	case explicit && gen.RandomServices:
		return gen, errors.New("--services and --randomize-services exclude each other")
	case gen.Archetype == "" && !gen.RandomServices:
		gen.Services = services
	}
	if gen.RandomServices {
		reg := builtin.Registry()
		taken := map[honeypot.Port]bool{}
		for _, name := range reg.Names() {
			svc, _ := reg.New(name)
			clash := false
			for _, p := range svc.Ports() {
				clash = clash || taken[p]
				taken[p] = true
			}
			if !clash {
				gen.Pool = append(gen.Pool, name)
			}
		}
	}
	return gen, nil
}
