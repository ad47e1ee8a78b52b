package smtp

import (
	"fmt"
	"sync"
	"time"

	"github.com/decnet-go/decnet/internal/persona"
)

// queueIDs makes Postfix's short queue ids: the microseconds of the
// arrival time as five hex digits, then the inode number of the queue file
// in hex ("8437A984684"). The inodes start at a per-decky number and grow,
// as files of one queue directory do.
type queueIDs struct {
	mu    sync.Mutex
	inode uint64
	now   func() time.Time
}

func newQueueIDs(p *persona.Persona) *queueIDs {
	r := p.Rand("smtp-queue-inode")
	return &queueIDs{inode: 0x100000 + r.Uint64N(0xe00000), now: time.Now}
}

// next returns a fresh queue id.
func (q *queueIDs) next() string {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.inode += 1 + uint64(q.now().UnixNano()%7)
	return fmt.Sprintf("%05X%X", q.now().Nanosecond()/1000, q.inode)
}
