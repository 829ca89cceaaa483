package gtmclient

import (
	"context"
	"sync"
	"time"

	"github.com/xlgo/xlgo/gtm/gtmproto"
)

// A committer's grant of the snapshot gate outlives a broken connection to
// the gtm: its COMMIT PREPAREDs go on. When the client connects again (to the
// same gtm, or to a standby promoted meanwhile) it asks for each such grant
// again as a resumed one, which the gtm grants ahead of waiting readers while
// committers hold the gate; a promoted gtm starts so, for the committer
// linger. Readers on the new gtm then wait for those commits too.

// resumeWait bounds asking for one grant again.
const resumeWait = 5 * time.Second

// heldGrant is a committer's grant not yet released, on the connection
// that holds it now.
type heldGrant struct {
	mu    sync.Mutex
	cn    *conn
	token uint64
	done  bool
}

// hold registers the committer's grant token on cn and returns its release.
func (c *Client) hold(cn *conn, token uint64) func() {
	g := &heldGrant{cn: cn, token: token}
	c.mu.Lock()
	if c.held == nil {
		c.held = map[*heldGrant]struct{}{}
	}
	c.held[g] = struct{}{}
	c.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			delete(c.held, g)
			c.mu.Unlock()
			g.mu.Lock()
			g.done = true
			cn, token := g.cn, g.token
			g.mu.Unlock()
			cn.releaser(token)()
		})
	}
}

// resumeGrants asks cn, a new connection, for the committer grants whose
// connection broke; the next new connection tries again for what fails.
func (c *Client) resumeGrants(cn *conn) {
	c.mu.Lock()
	gs := make([]*heldGrant, 0, len(c.held))
	for g := range c.held {
		gs = append(gs, g)
	}
	c.mu.Unlock()
	var e gtmproto.Encoder
	body := e.Uvarint(uint64(gtmproto.GateCommitterResume)).Bytes()
	for _, g := range gs {
		g.mu.Lock()
		stale := !g.done && g.cn != cn && g.cn.isDead()
		g.mu.Unlock()
		if !stale {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), resumeWait)
		token, err := cn.gateEnter(ctx, body)
		cancel()
		if err != nil {
			return
		}
		g.mu.Lock()
		if g.done {
			g.mu.Unlock()
			cn.releaser(token)()
			continue
		}
		g.cn, g.token = cn, token
		g.mu.Unlock()
	}
}
