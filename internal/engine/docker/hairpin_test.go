package docker

import (
	"context"
	"crypto/rand"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/decnet-go/decnet/internal/decky"
)

// TestDeployMacvlanHairpin deploys a decky on a macvlan network whose
// parent is an empty Linux bridge this test makes (no traffic leaves the host): the
// decky gets its own MAC and address, the host reaches it through the
// hairpin interface deploy creates, and teardown removes the hairpin.
func TestDeployMacvlanHairpin(t *testing.T) {
	d := dockerDriver(t)
	// ipvlan takes the same path with another link type; the kernels this
	// runs on in CI lack the ipvlan module, so only macvlan is exercised.
	testHairpin(t, d, "macvlan")
}

func testHairpin(t *testing.T, d *Driver, driver string) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	b := make([]byte, 1)
	rand.Read(b)
	subnet := netip.PrefixFrom(netip.AddrFrom4([4]byte{172, 31, b[0], 0}), 24)
	at := func(n byte) netip.Addr { a := subnet.Addr().As4(); a[3] = n; return netip.AddrFrom4(a) }
	parent := "dcnt" + randHex(3)
	attrs := netlink.NewLinkAttrs()
	attrs.Name = parent
	if err := netlink.LinkAdd(&netlink.Bridge{LinkAttrs: attrs}); err != nil {
		t.Fatalf("create parent %s: %v", parent, err)
	}
	link, err := netlink.LinkByName(parent)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { netlink.LinkDel(link) })
	host := at(1)
	if err := netlink.AddrAdd(link, &netlink.Addr{IPNet: &net.IPNet{IP: host.AsSlice(), Mask: net.CIDRMask(24, 32)}}); err != nil {
		t.Fatal(err)
	}
	if err := netlink.LinkSetUp(link); err != nil {
		t.Fatal(err)
	}
	if got, err := HostAddr(parent, subnet); err != nil || got != host {
		t.Fatalf("HostAddr = %v, %v; want %v", got, err, host)
	}

	d.NetworkName = "decnet_test_" + randHex(4)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		d.Teardown(ctx, nil)
	})
	secret := make([]byte, 32)
	rand.Read(secret)
	o := DeployOptions{Network: driver, Parent: parent, Subnet: subnet, Gateway: at(254),
		DataDir: t.TempDir(), InstallSecret: secret, Progress: func(s string) { t.Log(s) }}
	dk := decky.Decky{Name: "m" + randHex(2) + "-lan", IP: at(10), Services: []string{"ssh"}}
	if err := d.Deploy(ctx, []decky.Decky{dk}, o); err != nil {
		t.Fatal(err)
	}
	hp, err := netlink.LinkByName(hairpinName(driver))
	if err != nil {
		t.Fatalf("no hairpin after deploy: %v", err)
	}
	if hp.Attrs().ParentIndex != link.Attrs().Index {
		t.Errorf("hairpin parent index %d; want %d (%s)", hp.Attrs().ParentIndex, link.Attrs().Index, parent)
	}
	addrs, _ := netlink.AddrList(hp, netlink.FAMILY_V4)
	if len(addrs) != 1 || !addrs[0].IP.Equal(host.AsSlice()) {
		t.Errorf("hairpin addresses %v; want %s/32", addrs, host)
	}

	// From the host, the decky answers on its own LAN address.
	addr := net.JoinHostPort(dk.IP.String(), "22")
	waitListening(t, addr, 30*time.Second)
	if id := sshIdent(t, addr); len(id) < 8 || id[:8] != "SSH-2.0-" {
		t.Fatalf("ssh ident %q", id)
	}

	if err := d.Teardown(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := netlink.LinkByName(hairpinName(driver)); err == nil {
		t.Fatal("hairpin still there after teardown --all")
	}
}
