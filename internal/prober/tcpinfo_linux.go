//go:build linux

package prober

import (
	"encoding/binary"
	"net"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// tcpi_options bits (linux/tcp.h).
const (
	tcpiOptTimestamps = 1
	tcpiOptSACK       = 2
	tcpiOptWScale     = 4
	tcpiOptECN        = 8
)

// readTCPInfo reads TCP_INFO of c. The window scales are 4-bit fields in
// the byte after tcpi_options, which unix.TCPInfo leaves as padding; it is
// read from the struct's memory, where the kernel wrote it.
func readTCPInfo(c *net.TCPConn) (TCPInfo, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return TCPInfo{}, err
	}
	var ti *unix.TCPInfo
	var serr error
	if err := rc.Control(func(fd uintptr) {
		ti, serr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
	}); err != nil {
		return TCPInfo{}, err
	}
	if serr != nil {
		return TCPInfo{}, serr
	}
	scales := (*[8]byte)(unsafe.Pointer(ti))[6]
	sndScale := scales & 0x0f
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 { // big-endian bit order
		sndScale = scales >> 4
	}
	info := TCPInfo{
		MSS:         int(ti.Snd_mss),
		WScale:      -1,
		SACK:        ti.Options&tcpiOptSACK != 0,
		Timestamps:  ti.Options&tcpiOptTimestamps != 0,
		ECN:         ti.Options&tcpiOptECN != 0,
		RTT:         time.Duration(ti.Rtt) * time.Microsecond,
		Window:      int(ti.Snd_wnd),
		WindowKnown: ti.Data_segs_in == 0 && ti.Snd_wnd != 0,
	}
	if ti.Options&tcpiOptWScale != 0 {
		info.WScale = int(sndScale)
	}
	if !info.WindowKnown {
		info.Window = 0
	}
	return info, nil
}
