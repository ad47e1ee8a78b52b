// Package shell is the bash of a decky: a login shell over the persona's
// filesystem (with the operator's file drops and a private copy-on-write
// overlay per session), the commands attackers type, and the line editor
// and read-eval-print loop that every interactive transport (ssh, telnet)
// shares. It emits nothing itself: the transport reports each command line
// through the callback it passes to Interact or RunLines.
package shell
