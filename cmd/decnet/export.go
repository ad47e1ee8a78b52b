package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/decnet-go/decnet/internal/attack"
	"github.com/decnet-go/decnet/internal/export"
	"github.com/decnet-go/decnet/internal/store"
	"github.com/decnet-go/decnet/internal/ttpexport"
)

// exportCmd writes ATT&CK exports of the stored tags to stdout.
func exportCmd() *cobra.Command {
	var dataDir, dsn, attacker, apiURL string
	cmd := &cobra.Command{
		Use:   "export stix|misp|navigator",
		Short: "Write a STIX 2.1 bundle, a MISP event or an ATT&CK Navigator layer to stdout",
		Long: `Export what DECNET knows about attackers, with their ATT&CK techniques.

  stix       a STIX 2.1 bundle of one attacker (--attacker) or of the fleet
  misp       a MISP event of one attacker (--attacker is required)
  navigator  an ATT&CK Navigator layer (4.5) of one attacker or of the fleet

The store is read directly (--data-dir or --db; SQLite is safe to read while
decnet up runs), or through a running API with --api.`,
		Example: `  decnet export navigator > fleet-layer.json
  decnet export stix --attacker 3f0c… --data-dir /var/lib/decnet
  decnet export misp --attacker 3f0c… --api http://127.0.0.1:8080`,
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"stix", "misp", "navigator"},
		RunE: func(cmd *cobra.Command, args []string) error {
			kind := args[0]
			switch kind {
			case "stix", "navigator":
			case "misp":
				if attacker == "" {
					return errors.New("export misp: --attacker UUID is required")
				}
			default:
				return fmt.Errorf("export %q: use stix, misp or navigator", kind)
			}
			ctx := cmd.Context()
			var out any
			if apiURL != "" {
				c, err := newAPIClient(ctx, apiURL)
				if err != nil {
					return err
				}
				path := map[string]string{"stix": "/api/v1/ttp/export/stix", "navigator": "/api/v1/ttp/export/navigator"}[kind]
				if attacker != "" {
					path = map[string]string{"stix": "/api/v1/ttp/export/stix/attacker/", "misp": "/api/v1/ttp/export/misp/attacker/",
						"navigator": "/api/v1/ttp/export/navigator/attacker/"}[kind] + attacker
				}
				var raw json.RawMessage
				if err := c.do(ctx, "GET", path, nil, &raw); err != nil {
					return err
				}
				out = raw
			} else {
				if dsn == "" {
					dsn = filepath.Join(dataDir, "decnet.db")
					if _, err := os.Stat(dsn); err != nil {
						return fmt.Errorf("no store at %s (set --data-dir or --db): %w", dsn, err)
					}
				}
				st, err := store.Open(ctx, dsn)
				if err != nil {
					return err
				}
				defer st.Close()
				cat := attack.Default()
				var a export.Attacker
				if attacker != "" {
					if a, err = ttpexport.Attacker(ctx, st, attacker); errors.Is(err, store.ErrNotFound) {
						return fmt.Errorf("attacker %s: not found", attacker)
					} else if err != nil {
						return err
					}
				}
				switch {
				case kind == "misp":
					out = export.MISP(a, cat)
				case kind == "stix" && attacker != "":
					out = export.STIX([]export.Attacker{a}, export.STIXOptions{Catalogue: cat})
				case kind == "stix":
					as, err := ttpexport.Fleet(ctx, st)
					if err != nil {
						return err
					}
					out = export.STIX(as, export.STIXOptions{Catalogue: cat})
				case attacker != "":
					out = export.Navigator("DECNET attacker "+a.IPs[0], a.Tags, cat)
				default:
					tags, err := ttpexport.FleetTags(ctx, st)
					if err != nil {
						return err
					}
					out = export.Navigator("DECNET fleet", tags, cat)
				}
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(out)
		},
	}
	f := cmd.Flags()
	f.StringVar(&dataDir, "data-dir", defaultDataDir(), "directory of the store (as given to decnet up)")
	f.StringVar(&dsn, "db", "", "database DSN instead of <data-dir>/decnet.db")
	f.StringVar(&attacker, "attacker", "", "export one attacker (its UUID)")
	f.StringVar(&apiURL, "api", os.Getenv("DECNET_API"), apiHelp)
	return cmd
}
