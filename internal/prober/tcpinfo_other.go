//go:build !linux

package prober

import "net"

func readTCPInfo(*net.TCPConn) (TCPInfo, error) { return TCPInfo{}, ErrTCPInfoUnsupported }
