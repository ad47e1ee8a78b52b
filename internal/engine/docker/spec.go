package docker

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"

	"github.com/decnet-go/decnet/internal/decky"
	"github.com/decnet-go/decnet/internal/engine/runtime"
	"github.com/decnet-go/decnet/internal/honeypot"
	"github.com/decnet-go/decnet/internal/honeypot/builtin"
	"github.com/decnet-go/decnet/internal/persona"
)

// Labels on every container and network the driver creates. Discovery
// (status, teardown, a log collector) goes by them, never by name.
const (
	LabelManaged  = "decnet.managed"        // "true"
	LabelNetwork  = "decnet.network"        // the docker network the fleet lives on
	LabelDecky    = "decnet.fleet.decky"    // decky name
	LabelService  = "decnet.fleet.service"  // service slug (service containers)
	LabelRole     = "decnet.fleet.role"     // base or service
	LabelIP       = "decnet.fleet.ip"       // the decky's address
	LabelHostname = "decnet.fleet.hostname" // the persona's hostname (base)
	LabelSpecHash = "decnet.spec-hash"      // what the container was created from
)

// Roles of a decky's containers.
const (
	RoleBase    = "base"
	RoleService = "service"
)

// DefaultNetworkName is the docker network of the fleet.
const DefaultNetworkName = "decnet_lan"

// Limits of the containers, as ARCHITECTURE §10 asks: an unprivileged user,
// no capabilities, a read-only root filesystem, bounded memory and pids.
const (
	nobody         = 65534
	serviceMemory  = 128 << 20
	servicePids    = 256
	baseMemory     = 32 << 20
	basePids       = 16
	stateMount     = "/state"
	dropsMount     = "/drops"
	logMaxSize     = "10m"
	logMaxFile     = "5"
	restartPolicy  = "unless-stopped"
	tmpfsOptions   = "rw,noexec,nosuid,nodev,size=16m"
	unprivPortsKey = "net.ipv4.ip_unprivileged_port_start"
)

// DeployOptions say where and how a fleet is deployed.
type DeployOptions struct {
	// Network is the docker network driver: bridge (reachable from this
	// host only; tests), macvlan (each decky on the LAN with its own MAC) or
	// ipvlan (L2; the parent's MAC, for Wi-Fi). Default bridge.
	Network string
	// Subnet of the network (the LAN's for macvlan/ipvlan); every decky IP
	// must be inside it.
	Subnet netip.Prefix
	// Gateway of the subnet; default its first address.
	Gateway netip.Addr
	// Parent is the host NIC of a macvlan/ipvlan network.
	Parent string
	// NATSURL is where service containers publish events; empty: stdout only.
	NATSURL string
	// DataDir holds the per-service state (host keys) under deckies/.
	DataDir string
	// InstallSecret seeds every persona (the control plane's install.secret).
	InstallSecret []byte
	// Image overrides the decky image (Deploy builds and sets it).
	Image string
	// Progress, if set, receives one line per step.
	Progress func(string)
}

func (o *DeployOptions) progress(format string, args ...any) {
	if o.Progress != nil {
		o.Progress(fmt.Sprintf(format, args...))
	}
}

// containerSpec is everything a decky container is created from. Both the
// Engine API request and the compose file of a dry run are made from it, so
// they cannot drift apart.
type containerSpec struct {
	Name     string            `json:"name"`
	Image    string            `json:"image"`
	Hostname string            `json:"hostname,omitempty"`
	Cmd      []string          `json:"cmd"`
	Env      []string          `json:"env,omitempty"` // sorted K=V
	Labels   map[string]string `json:"labels"`
	User     string            `json:"user"`
	Memory   int64             `json:"memory"`
	Pids     int64             `json:"pids"`
	Sysctls  map[string]string `json:"sysctls,omitempty"`
	Tmpfs    map[string]string `json:"tmpfs,omitempty"`
	Binds    []bindMount       `json:"binds,omitempty"`
	// Network and IP (base): the network the container is on, and its
	// static address there.
	Network string     `json:"network,omitempty"`
	IP      netip.Addr `json:"ip,omitzero"`
	// Join (service): the base container whose network namespace it shares.
	Join string `json:"join,omitempty"`
	// Custom: an operator's image ([custom-*]); it runs as its image says
	// (user, entrypoint) on a writable root filesystem, and may be pulled.
	Custom bool `json:"custom,omitempty"`
}

type bindMount struct {
	Host      string `json:"host"`
	Container string `json:"container"`
	ReadOnly  bool   `json:"ro,omitempty"`
}

// mode is the bind's access, as docker and compose spell it.
func (b bindMount) mode() string {
	if b.ReadOnly {
		return "ro"
	}
	return "rw"
}

// deckyPlan is a decky's containers.
type deckyPlan struct {
	Decky    decky.Decky
	Hostname string
	Base     containerSpec
	Services []containerSpec
}

// plan validates the fleet and makes the containers of every decky.
// network is the docker network name.
func plan(fleet []decky.Decky, o DeployOptions, netName string, reg *honeypot.Registry) ([]deckyPlan, error) {
	if reg == nil {
		reg = builtin.Registry()
	}
	if len(o.InstallSecret) == 0 {
		return nil, fmt.Errorf("install secret is not set: the personas would not match the control plane's")
	}
	if o.DataDir == "" {
		return nil, fmt.Errorf("data directory is not set (--data-dir)")
	}
	if o.Image == "" {
		return nil, fmt.Errorf("image is not set")
	}
	names, ips := map[string]bool{}, map[netip.Addr]string{}
	var out []deckyPlan
	for _, d := range fleet {
		if err := d.Validate(); err != nil {
			return nil, err
		}
		if names[d.Name] {
			return nil, fmt.Errorf("decky %s: the name is used twice", d.Name)
		}
		names[d.Name] = true
		if other, dup := ips[d.IP]; dup {
			return nil, fmt.Errorf("decky %s: ip %s is also %s's", d.Name, d.IP, other)
		}
		ips[d.IP] = d.Name
		if !d.IP.Is4() {
			return nil, fmt.Errorf("decky %s: ip %s: only IPv4 deckies are supported", d.Name, d.IP)
		}
		if o.Subnet.IsValid() && !o.Subnet.Contains(d.IP) {
			return nil, fmt.Errorf("decky %s: ip %s is outside the subnet %s", d.Name, d.IP, o.Subnet)
		}
		if o.Gateway.IsValid() && d.IP == o.Gateway {
			return nil, fmt.Errorf("decky %s: ip %s is the gateway's", d.Name, d.IP)
		}
		fam, ok := decky.LookupFamily(d.OSFamily)
		if !ok {
			return nil, fmt.Errorf("decky %s: nmap_os %q is not an OS family (known: %v)", d.Name, d.OSFamily, decky.Families())
		}
		seen := map[string]bool{}
		for _, s := range d.Services {
			if seen[s] {
				return nil, fmt.Errorf("decky %s: service %s is listed twice", d.Name, s)
			}
			seen[s] = true
			if c, ok := d.CustomOf(s); ok {
				if c.Image == "" {
					return nil, fmt.Errorf("decky %s: custom service %s has no image (binary=)", d.Name, s)
				}
				continue
			}
			svc, err := reg.New(s)
			if err != nil {
				return nil, fmt.Errorf("decky %s: %w", d.Name, err)
			}
			if err := svc.Schema().Validate(d.Config[s]); err != nil {
				return nil, fmt.Errorf("decky %s service %s: %w", d.Name, s, err)
			}
		}
		p, err := planDecky(d, fam, o, netName)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func planDecky(d decky.Decky, fam decky.Family, o DeployOptions, netName string) (deckyPlan, error) {
	// The same persona the service containers derive (engine.Local does it
	// with the decky's distro), so the base's hostname matches the shell's.
	pers, err := persona.NewWithDistro(o.InstallSecret, d.Name, d.Distro)
	if err != nil {
		return deckyPlan{}, fmt.Errorf("decky %s: %w", d.Name, err)
	}
	p := deckyPlan{Decky: d, Hostname: pers.Hostname}
	labels := func(role, svc string) map[string]string {
		l := map[string]string{
			LabelManaged: "true", LabelNetwork: netName, LabelDecky: d.Name,
			LabelRole: role, LabelIP: d.IP.String(),
		}
		if svc != "" {
			l[LabelService] = svc
		}
		return l
	}
	sysctls := maps.Clone(fam.Sysctls)
	sysctls[unprivPortsKey] = "0"
	user := strconv.Itoa(nobody) + ":" + strconv.Itoa(nobody)
	p.Base = containerSpec{
		Name: d.Name, Image: o.Image, Hostname: p.Hostname,
		Cmd:    []string{"decky", "run", "--idle"},
		Labels: labels(RoleBase, ""), User: user,
		Memory: baseMemory, Pids: basePids, Sysctls: sysctls,
		Network: netName, IP: d.IP,
	}
	p.Base.Labels[LabelHostname] = p.Hostname
	p.Base.Labels[LabelSpecHash] = p.Base.hash("")
	spec, err := runtime.EncodeSpec(d)
	if err != nil {
		return p, err
	}
	for _, s := range d.Services {
		if cs, ok := d.CustomOf(s); ok {
			c := containerSpec{
				Name: d.Name + "-" + s, Image: cs.Image, Cmd: strings.Fields(cs.Exec),
				Labels: labels(RoleService, s), Memory: serviceMemory, Pids: servicePids,
				Tmpfs: map[string]string{"/tmp": tmpfsOptions}, Join: d.Name, Custom: true,
			}
			c.Labels[LabelSpecHash] = c.hash(p.Base.Labels[LabelSpecHash])
			p.Services = append(p.Services, c)
			continue
		}
		cmd := []string{"decky", "run", "--service", s, "--state-dir", stateMount, "--drops", dropsMount}
		if o.NATSURL != "" {
			cmd = append(cmd, "--nats-url", o.NATSURL)
		}
		c := containerSpec{
			Name: d.Name + "-" + s, Image: o.Image, Cmd: cmd,
			Env: []string{
				runtime.EnvSpec + "=" + spec,
				runtime.EnvSecret + "=" + hex.EncodeToString(o.InstallSecret),
			},
			Labels: labels(RoleService, s), User: user,
			Memory: serviceMemory, Pids: servicePids,
			Tmpfs: map[string]string{"/tmp": tmpfsOptions},
			Binds: []bindMount{{
				Host:      StateDir(o.DataDir, d.Name, s),
				Container: stateMount + "/" + d.Name + "/" + s,
			}, {
				// Files dropped into the decky (WriteFile): every service
				// sees them, none may change them.
				Host: DropsDir(o.DataDir, d.Name), Container: dropsMount, ReadOnly: true,
			}},
			Join: d.Name,
		}
		slices.Sort(c.Env)
		// A service shares its base's network namespace: a new base means
		// new service containers too.
		c.Labels[LabelSpecHash] = c.hash(p.Base.Labels[LabelSpecHash])
		p.Services = append(p.Services, c)
	}
	return p, nil
}

// StateDir is where the state of one service of a decky lives on the host:
// <data>/deckies/<decky>/<service>, the same place as with the local driver,
// so a decky keeps its SSH host key when it moves between drivers.
func StateDir(dataDir, deckyName, service string) string {
	return filepath.Join(dataDir, "deckies", deckyName, service)
}

// DropsDir is where the files dropped into a decky live on the host:
// <data>/deckies/<decky>/drops, mirroring absolute paths (/etc/x is
// drops/etc/x). It is mounted read-only at /drops in every service
// container.
func DropsDir(dataDir, deckyName string) string {
	return filepath.Join(dataDir, "deckies", deckyName, "drops")
}

// hash identifies what the container is made from (excluding the hash label
// itself); salt chains a service to its base.
func (c containerSpec) hash(salt string) string {
	cp := c
	cp.Labels = maps.Clone(c.Labels)
	delete(cp.Labels, LabelSpecHash)
	b, _ := json.Marshal(cp) // maps marshal sorted: stable
	h := sha256.New()
	h.Write(b)
	h.Write([]byte(salt))
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// create is the Engine API request for c.
func (c containerSpec) create() (*container.Config, *container.HostConfig, *network.NetworkingConfig) {
	cfg := &container.Config{
		Image: c.Image, Hostname: c.Hostname, Cmd: slices.Clone(c.Cmd), Env: slices.Clone(c.Env),
		Labels: maps.Clone(c.Labels), User: c.User,
	}
	pids := c.Pids
	hc := &container.HostConfig{
		RestartPolicy:  container.RestartPolicy{Name: container.RestartPolicyUnlessStopped},
		LogConfig:      container.LogConfig{Type: "json-file", Config: map[string]string{"max-size": logMaxSize, "max-file": logMaxFile}},
		CapDrop:        []string{"ALL"},
		SecurityOpt:    []string{"no-new-privileges"},
		ReadonlyRootfs: !c.Custom,
		Sysctls:        maps.Clone(c.Sysctls),
		Tmpfs:          maps.Clone(c.Tmpfs),
		Resources:      container.Resources{Memory: c.Memory, MemorySwap: c.Memory, PidsLimit: &pids},
	}
	for _, b := range c.Binds {
		hc.Binds = append(hc.Binds, b.Host+":"+b.Container+":"+b.mode())
	}
	var nc *network.NetworkingConfig
	if c.Join != "" {
		hc.NetworkMode = container.NetworkMode("container:" + c.Join)
	} else {
		hc.NetworkMode = container.NetworkMode(c.Network)
		nc = &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
			c.Network: {IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: c.IP}},
		}}
	}
	return cfg, hc, nc
}
