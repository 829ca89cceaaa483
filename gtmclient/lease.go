package gtmclient

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/xlgo/xlgo/gtm/gtmproto"
)

// KeepLease holds a lease at the primary gtm for coordinator name until ctx
// ends, and votes for the standby's promotion when no primary has answered
// for after: the gtm's automatic failover (gtm/quorum.go), whose failover
// time after must be the gtms' own. coordinators tells how many coordinators
// the cluster has; back, when set, is called when a primary answers again
// after a failed lease (the commits cut short meanwhile may be in doubt).
func (c *Client) KeepLease(ctx context.Context, name string, coordinators func() int, after time.Duration, back func(), logger *slog.Logger) {
	if after <= 0 {
		return
	}
	every := after / 6
	lastOK, failed := time.Now(), false
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		n := max(coordinators(), 1)
		var e gtmproto.Encoder
		body := e.String(name).Uvarint(uint64(n)).Bytes()
		// A slow answer still renews: the gtm keeps a lease for after/2.
		lctx, cancel := context.WithTimeout(ctx, after/3)
		_, err := c.call(lctx, gtmproto.MsgLease, body)
		cancel()
		switch {
		case err == nil:
			if failed && back != nil {
				back()
			}
			failed = false
			lastOK = time.Now()
		case ctx.Err() == nil:
			failed = true
			if time.Since(lastOK) < after {
				break
			}
			for i, addr := range c.addrs {
				primary, verr := vote(ctx, addr, body, every)
				if verr == nil && primary {
					logger.Warn("voted for the gtm's failover; it is the primary now", "gtm", addr, "lost_for", time.Since(lastOK).Round(time.Second))
					c.usePrimary(i)
				} else if verr == nil {
					logger.Warn("voted for the gtm's failover", "gtm", addr, "lost_for", time.Since(lastOK).Round(time.Second))
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// usePrimary makes the gtm at c.addrs[i], found to be the primary, the one the
// client uses: a connection to another gtm is dropped. A gtm cut off by
// the network leaves its connections open (no reset comes back), and every
// request on them would wait for its bound, forever.
func (c *Client) usePrimary(i int) {
	c.mu.Lock()
	cur := c.cur
	c.prefer = i
	c.mu.Unlock()
	if cur != nil && cur.addrIdx != i {
		cur.close(fmt.Errorf("the gtm at %s no longer answers; %s is the primary", c.addrs[cur.addrIdx], c.addrs[i]))
	}
}

// vote sends one MsgVote to the gtm at addr on a connection of its own.
func vote(ctx context.Context, addr string, body []byte, d time.Duration) (primary bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var dialer net.Dialer
	nc, err := dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return false, err
	}
	defer nc.Close()
	if dl, ok := ctx.Deadline(); ok {
		nc.SetDeadline(dl)
	}
	if err := gtmproto.WriteFrame(nc, gtmproto.Frame{ID: 1, Type: gtmproto.MsgVote, Body: body}); err != nil {
		return false, err
	}
	f, err := gtmproto.ReadFrame(bufio.NewReader(nc), gtmproto.MaxResponseFrame)
	if err != nil {
		return false, err
	}
	if f.Type != gtmproto.MsgOK {
		_, msg, _ := gtmproto.DecodeError(f.Body)
		return false, fmt.Errorf("gtm %s: %s", addr, msg)
	}
	d2 := gtmproto.NewDecoder(f.Body)
	primary = d2.Bool()
	return primary, d2.Finish()
}
