// Package telnet is the telnet honeypot of a decky (port 23). It answers
// like a real telnetd — the option negotiation of Debian's inetutils-telnetd
// or of BusyBox's telnetd, then login(1)'s prompts, delays and retry limit —
// records every username and password tried, and lets an attacker who
// guessed one of the persona's weak passwords into the emulated bash of
// internal/honeypot/shell. Nothing is ever executed on the host.
//
// Its edges: the persona (internal/persona) says who the machine is and
// which passwords work; the framework (internal/honeypot) owns the accept
// loop, deadlines and per-source caps; this package owns the telnet wire
// protocol (RFC 854/855 and the options a telnetd negotiates) and the login
// dialogue.
package telnet
