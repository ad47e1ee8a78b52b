package node_test

import (
	"bufio"
	"context"
	"crypto/md5"
	"crypto/tls"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/decnet-go/decnet/internal/intel"
	"github.com/decnet-go/decnet/internal/node"
	"github.com/decnet-go/decnet/internal/store"
	"github.com/decnet-go/decnet/internal/testkit"
)

// TestFingerprintCatalogueEndToEnd: rule R0030 tags an attacker whose
// client fingerprint the catalogue lists — (a) the HASSH of the Go
// x/crypto/ssh client, listed in the operator's catalogue file; (b) the JA3
// of a Go crypto/tls client, listed by an SSLBL feed served on loopback
// only after the first connection (so the feed's refresh is exercised, and
// an unlisted JA3 is seen to tag nothing).
func TestFingerprintCatalogueEndToEnd(t *testing.T) {
	const sshUser = "root"
	sshConfig := func(pw string) *ssh.ClientConfig {
		return &ssh.ClientConfig{User: sshUser, Auth: []ssh.AuthMethod{ssh.Password(pw)},
			HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second}
	}
	hassh := clientHASSH(t, sshConfig("x"))
	t.Logf("HASSH of the Go ssh client: %s", hassh)
	catalogue := filepath.Join(t.TempDir(), "fingerprints.csv")
	body := "# test catalogue\nkind,value,label\n" +
		"hassh," + hassh + ",Go x/crypto/ssh (scanner toolkit)\n" +
		"ja4,t13d1516h2_8daaf6152771_b186095e22b6,decoy entry\n"
	if err := os.WriteFile(catalogue, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}

	var listedJA3 atomic.Value // string; empty until the test lists it
	listedJA3.Store("")
	feed := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "# abuse.ch SSLBL JA3 Fingerprint Blacklist (CSV)")
		fmt.Fprintln(w, "# ja3_md5,Firstseen,Lastseen,Listingreason")
		fmt.Fprintln(w, "1aa7bf8b97e540ca5edd75f7b8384bfa,2017-07-14 18:08:16,2019-07-27 20:42:54,TrickBot")
		if h := listedJA3.Load().(string); h != "" {
			fmt.Fprintf(w, "%s,2026-01-01 00:00:00,2026-03-01 00:00:00,TestRAT\n", h)
		}
	}))
	t.Cleanup(feed.Close)

	fleet := testkit.Fleet(1)
	fleet[0].Services = []string{"ssh", "https"}
	s := testkit.StartConfig(t, node.Config{Fleet: fleet, FingerprintsFile: catalogue, Intel: &intel.Config{
		Enabled: true, // no per-IP providers: Providers is empty
		SSLBL: intel.SSLBLConfig{Enabled: true, ProviderConfig: intel.ProviderConfig{BaseURL: feed.URL},
			RefreshInterval: 100 * time.Millisecond, RetryInterval: 100 * time.Millisecond},
	}})
	s.Login()
	ctx := context.Background()

	t.Run("hassh from the operator catalogue", func(t *testing.T) {
		root, _ := s.Persona("decky-01").Account("root")
		c, err := ssh.Dial("tcp", s.Addr("decky-01", "ssh"), sshConfig(root.Password))
		if err != nil {
			t.Fatalf("ssh login: %v", err)
		}
		c.Close()
		var a attackerDetail
		s.Eventually(20*time.Second, "R0030 (T1071, T1588.002) on the ssh attacker", func() bool {
			var ok bool
			if a, ok = attackerWith(s, "ssh"); !ok {
				return false
			}
			got := techniques(s, a.UUID)
			return got["T1071"] > 0 && got["T1588.002"] > 0
		})
		ev := r0030Evidence(t, s, a.UUID)
		if ev["fingerprint_kind"] != "hassh" || ev["fingerprint"] != hassh || ev["label"] != "Go x/crypto/ssh (scanner toolkit)" {
			t.Errorf("R0030 evidence %v; want the catalogue's hassh and label", ev)
		}
		// The decky logged the same HASSH the test computed from the wire.
		rows, _, err := s.Node.Store.Events(ctx, store.Page{Limit: 10, Decky: "decky-01", Service: "ssh", Type: "handshake"})
		if err != nil || len(rows) == 0 {
			t.Fatalf("handshake events: %v %d", err, len(rows))
		}
		var f map[string]any
		_ = json.Unmarshal(rows[0].Fields, &f)
		if f["hassh"] != hassh {
			t.Errorf("decky logged hassh %v, the wire says %s", f["hassh"], hassh)
		}
	})

	t.Run("ja3 from the SSLBL feed", func(t *testing.T) {
		// From the free even address below the decky's, so this is an
		// attacker of its own.
		dst := s.Addr("decky-01", "https")
		deckyIP := netip.MustParseAddrPort(dst).Addr().As4()
		deckyIP[3]--
		src := netip.AddrFrom4(deckyIP)
		tlsHello(t, src, dst)

		var ja3 string
		s.Eventually(10*time.Second, "the ClientHello stored", func() bool {
			rows, _, err := s.Node.Store.Events(ctx, store.Page{Limit: 10, AttackerIP: src.String(), Type: "tls_client_hello"})
			if err != nil || len(rows) == 0 {
				return false
			}
			var f map[string]any
			_ = json.Unmarshal(rows[0].Fields, &f)
			ja3, _ = f["ja3_hash"].(string)
			return ja3 != ""
		})
		t.Logf("JA3 of the Go TLS client: %s", ja3)
		attacker := attackerAt(t, s, src.String())
		s.Eventually(10*time.Second, "the tagger caught up", func() bool {
			p, err := s.Node.Bus.Pending(ctx, "ttp")
			return err == nil && p == 0
		})
		if got := techniques(s, attacker); got["T1071"] != 0 {
			t.Fatalf("an unlisted JA3 was tagged: %v", got)
		}

		listedJA3.Store(ja3)
		s.Eventually(20*time.Second, "R0030 on the TLS attacker once the feed lists its JA3", func() bool {
			tlsHello(t, src, dst) // a new handshake after each feed refresh
			got := techniques(s, attacker)
			return got["T1071"] > 0 && got["T1588.002"] > 0
		})
		ev := r0030Evidence(t, s, attacker)
		if ev["fingerprint_kind"] != "ja3_hash" || ev["fingerprint"] != ja3 || ev["label"] != "TestRAT (abuse.ch SSLBL)" {
			t.Errorf("R0030 evidence %v; want the feed's ja3 and label", ev)
		}
	})
}

// clientHASSH computes the HASSH of the Go ssh client with cfg from the
// KEXINIT it sends to a bare listener: md5 of its kex, client-to-server
// cipher, MAC and compression lists, joined with ';' (Salesforce's
// definition). The listener never finishes the handshake.
func clientHASSH(t *testing.T, cfg *ssh.ClientConfig) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan string, 1)
	go func() {
		defer close(got)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(c, "SSH-2.0-OpenSSH_9.6\r\n"); err != nil {
			return
		}
		br := bufio.NewReader(c)
		if _, err := br.ReadString('\n'); err != nil { // the client's banner
			return
		}
		var hdr [5]byte
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return
		}
		n, pad := binary.BigEndian.Uint32(hdr[:4]), int(hdr[4])
		if n > 64<<10 || int(n) < pad+1 {
			return
		}
		pkt := make([]byte, n-1)
		if _, err := io.ReadFull(br, pkt); err != nil {
			return
		}
		payload := pkt[:len(pkt)-pad]
		if len(payload) < 17 || payload[0] != 20 { // SSH_MSG_KEXINIT, cookie
			return
		}
		rest := payload[17:]
		var lists []string
		for range 8 {
			if len(rest) < 4 {
				return
			}
			l := binary.BigEndian.Uint32(rest)
			if uint32(len(rest)-4) < l {
				return
			}
			lists = append(lists, string(rest[4:4+l]))
			rest = rest[4+l:]
		}
		sum := md5.Sum([]byte(strings.Join([]string{lists[0], lists[2], lists[4], lists[6]}, ";")))
		got <- hex.EncodeToString(sum[:])
	}()
	if c, err := ssh.Dial("tcp", ln.Addr().String(), cfg); err == nil {
		c.Close()
	}
	h, ok := <-got
	if !ok || h == "" {
		t.Fatal("no KEXINIT from the Go ssh client")
	}
	return h
}

// tlsHello makes one TLS connection from src to addr with the Go client's
// defaults and one request, as a Go tool would.
func tlsHello(t *testing.T, src netip.Addr, addr string) {
	t.Helper()
	d := &net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: src.AsSlice()}}
	c, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("tls dial %s from %s: %v", addr, src, err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", addr)
	_, _ = io.Copy(io.Discard, io.LimitReader(c, 1<<20))
}

// attackerAt is the UUID of the attacker at ip, once ingest recorded it.
func attackerAt(t *testing.T, s *testkit.System, ip string) string {
	t.Helper()
	var id string
	s.Eventually(10*time.Second, "attacker "+ip+" recorded", func() bool {
		var list testkit.Page[store.Attacker]
		if s.Get("/api/v1/attackers?limit=100", &list) != http.StatusOK {
			return false
		}
		for _, a := range list.Data {
			if a.IP == ip {
				id = a.UUID
				return true
			}
		}
		return false
	})
	return id
}

// r0030Evidence is the evidence of the attacker's R0030 tag on T1071.
func r0030Evidence(t *testing.T, s *testkit.System, attacker string) map[string]any {
	t.Helper()
	var tags []tagRow
	if code := s.Get("/api/v1/ttp/tags/by-attacker/"+attacker+"/T1071", &tags); code != http.StatusOK {
		t.Fatalf("GET tags: %d", code)
	}
	for _, tg := range tags {
		if tg.RuleID == "R0030" {
			var ev map[string]any
			if err := json.Unmarshal(tg.Evidence, &ev); err != nil {
				t.Fatal(err)
			}
			return ev
		}
	}
	t.Fatalf("no R0030 tag among %+v", tags)
	return nil
}
