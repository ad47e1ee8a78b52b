package honeypot

import "syscall"

// errTooManyFiles is returned by Accept when the process is out of file
// descriptors; the accept loop backs off instead of giving up.
var errTooManyFiles = syscall.EMFILE
