package gtmclient

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/xlgo/xlgo/gtm/gtmproto"
)

// CommitAndEnter logs the commit decision for gid (participants) and asks for
// the snapshot gate as a committer, both in one write: the gate request
// queues at the GTM while the decision is made durable, so a two-phase
// commit pays one round trip for both. decided tells whether the decision is
// logged; an error with decided set is the gate's (not granted within
// gateWait of the decision, or the connection broke), one without it the decision's (within
// ctx; as for LogDecision, a decision whose answer was lost may have been
// logged all the same). When the connection breaks or the GTM it reached is
// a standby, it falls back to LogDecision and GateEnter, which reconnect.
func (c *Client) CommitAndEnter(ctx context.Context, gateWait time.Duration, gid string, participants []string) (release func(), decided bool, err error) {
	var e gtmproto.Encoder
	body := e.Decision(gtmproto.Decision{GID: gid, Participants: participants, Commit: true}).Bytes()
	if cn, err := c.getConn(ctx); err == nil {
		token, decided, err, done := cn.commitAndEnter(ctx, gateWait, body)
		if done {
			if token != 0 {
				release = c.hold(cn, token) // resumed on the next connection should this one break
			}
			return release, decided, err
		}
	}
	if err := c.LogDecision(ctx, gid, participants, true); err != nil {
		return nil, false, err
	}
	gateCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), gateWait)
	defer cancel()
	release, err = c.GateEnter(gateCtx, GateCommitter)
	return release, true, err
}

// commitAndEnter is CommitAndEnter on one connection, the gate's token once
// granted; done is false when the
// caller should fall back (nothing was decided on this connection that the
// fallback could not log again).
func (cn *conn) commitAndEnter(ctx context.Context, gateWait time.Duration, decision []byte) (token uint64, decided bool, err error, done bool) {
	decCh, gateCh := make(chan gtmproto.Frame, 1), make(chan gtmproto.Frame, 1)
	cn.mu.Lock()
	decID, gateID := cn.nextID+1, cn.nextID+2
	cn.nextID += 2
	cn.pending[decID], cn.pending[gateID] = decCh, gateCh
	cn.mu.Unlock()
	forget := func(ids ...uint64) {
		cn.mu.Lock()
		for _, id := range ids {
			delete(cn.pending, id)
		}
		cn.mu.Unlock()
	}
	var e gtmproto.Encoder
	if err := cn.write(ctx, gtmproto.Frame{ID: decID, Type: gtmproto.MsgLogDecision, Body: decision},
		gtmproto.Frame{ID: gateID, Type: gtmproto.MsgGateEnter, Body: e.Uvarint(uint64(GateCommitter)).Bytes()}); err != nil {
		forget(decID, gateID)
		return 0, false, nil, false
	}
	withdraw := cn.releaser(gateID)

	var f gtmproto.Frame
	select {
	case f = <-decCh:
	case <-cn.dead:
		forget(decID, gateID)
		select {
		case f = <-decCh:
		default:
			return 0, false, nil, false
		}
	case <-ctx.Done():
		forget(decID, gateID)
		withdraw()
		return 0, false, ctx.Err(), true
	}
	if _, err := response(gtmproto.MsgLogDecision, f); err != nil {
		forget(gateID)
		withdraw()
		var se *ServerError
		if errors.As(err, &se) && se.Code == gtmproto.CodeStandby {
			return 0, false, nil, false
		}
		return 0, false, err, true
	}

	gateTimer := time.NewTimer(gateWait)
	defer gateTimer.Stop()
	select {
	case f = <-gateCh:
	case <-cn.dead:
		forget(gateID)
		select {
		case f = <-gateCh:
		default:
			return 0, true, cn.deadErr(), true
		}
	case <-gateTimer.C:
		forget(gateID)
		withdraw()
		return 0, true, fmt.Errorf("snapshot gate not granted within %s: %w", gateWait, context.DeadlineExceeded), true
	}
	if _, err := response(gtmproto.MsgGateEnter, f); err != nil {
		return 0, true, err, true
	}
	return gateID, true, nil, true
}

// releaser gives back (or withdraws) the gate request token, once, without
// waiting for an answer. A lost connection has released it already.
func (cn *conn) releaser(token uint64) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			var e gtmproto.Encoder
			_ = cn.write(context.Background(), gtmproto.Frame{Type: gtmproto.MsgGateLeave, Body: e.Uvarint(token).Bytes()})
		})
	}
}

// forgetQueue holds the gids ForgetLater has yet to send.
type forgetQueue struct {
	mu      sync.Mutex
	gids    []string
	sending bool
}

// Bounds of ForgetLater.
const (
	// maxQueuedForgets bounds the gids waiting while the GTM cannot be
	// reached; past it the oldest are dropped.
	maxQueuedForgets = 1 << 16
	// forgetWait bounds one ForgetMany.
	forgetWait = 10 * time.Second
)

// ForgetLater tells the GTM that every participant has finished gid, without
// waiting: the gids of commits that end while one batch is on its way go to
// the GTM together in the next one. A forget that never arrives (the GTM is
// unreachable, the coordinator stops) only keeps the decision until a
// resolver finds none of its participants holds gid and forgets it.
func (c *Client) ForgetLater(gid string) {
	q := &c.forgets
	q.mu.Lock()
	q.gids = append(q.gids, gid)
	if len(q.gids) > maxQueuedForgets {
		q.gids = q.gids[len(q.gids)-maxQueuedForgets:]
	}
	start := !q.sending
	q.sending = true
	q.mu.Unlock()
	if start {
		go c.sendForgets()
	}
}

// sendForgets sends the queued gids in batches until none is left.
func (c *Client) sendForgets() {
	q := &c.forgets
	for {
		q.mu.Lock()
		n := min(len(q.gids), gtmproto.MaxForgetBatch)
		batch := q.gids[:n:n]
		q.gids = q.gids[n:]
		if n == 0 {
			q.gids = nil
			q.sending = false
			q.mu.Unlock()
			return
		}
		q.mu.Unlock()
		var e gtmproto.Encoder
		ctx, cancel := context.WithTimeout(context.Background(), forgetWait)
		_, err := c.call(ctx, gtmproto.MsgForgetMany, e.Strings(batch).Bytes())
		cancel()
		if errors.Is(err, ErrClosed) {
			q.mu.Lock()
			q.gids, q.sending = nil, false
			q.mu.Unlock()
			return
		}
	}
}

// ForgetsQueued is how many gids ForgetLater has yet to send (for tests).
func (c *Client) ForgetsQueued() int {
	q := &c.forgets
	q.mu.Lock()
	defer q.mu.Unlock()
	n := len(q.gids)
	if q.sending {
		n++ // a batch may be on its way
	}
	return n
}
