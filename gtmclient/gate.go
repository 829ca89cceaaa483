package gtmclient

import (
	"context"
	"errors"
	"fmt"

	"github.com/xlgo/xlgo/gtm/gtmproto"
)

// GateKind is the group a snapshot gate holder belongs to.
type GateKind = gtmproto.GateKind

// Snapshot gate groups (DESIGN.md §7): readers exclude committers and the
// reverse; readers share the gate with readers, committers with committers.
const (
	GateReader    = gtmproto.GateReader
	GateCommitter = gtmproto.GateCommitter
)

// GateEnter takes the snapshot gate for kind, waiting (one round trip when the
// gate is free) until the GTM grants it or ctx ends. release gives the gate
// back without waiting for an answer; calling it again does nothing. A grant
// also ends when the connection to the GTM breaks (the GTM releases everything
// a lost connection held).
func (c *Client) GateEnter(ctx context.Context, kind GateKind) (release func(), err error) {
	if kind != GateReader && kind != GateCommitter {
		return nil, fmt.Errorf("gtm GateEnter: unknown gate kind %d", kind)
	}
	var e gtmproto.Encoder
	body := e.Uvarint(uint64(kind)).Bytes()
	var lastErr error
	for attempt := 0; attempt <= len(c.addrs); attempt++ {
		if err := ctx.Err(); err != nil {
			if lastErr != nil {
				return nil, lastErr
			}
			return nil, err
		}
		cn, err := c.getConn(ctx)
		if err != nil {
			return nil, err
		}
		token, err := cn.gateEnter(ctx, body)
		if err == nil && kind == GateCommitter {
			return c.hold(cn, token), nil
		}
		if err == nil {
			return cn.releaser(token), nil
		}
		var se *ServerError
		switch {
		case errors.As(err, &se) && se.Code == gtmproto.CodeStandby:
			c.abandon(cn)
			lastErr = fmt.Errorf("%w: %s: %s", ErrUnavailable, c.addrs[cn.addrIdx], se.Message)
			continue
		case errors.Is(err, ErrUnavailable):
			// A grant dies with its connection: asking again is safe.
			lastErr = err
			continue
		}
		return nil, err
	}
	return nil, lastErr
}

// gateEnter sends GateEnter and waits for the grant; when ctx ends first it
// withdraws the request (or releases a grant that crossed the withdrawal).
func (cn *conn) gateEnter(ctx context.Context, body []byte) (uint64, error) {
	ch := make(chan gtmproto.Frame, 1)
	cn.mu.Lock()
	cn.nextID++
	id := cn.nextID
	cn.pending[id] = ch
	cn.mu.Unlock()
	forget := func() {
		cn.mu.Lock()
		delete(cn.pending, id)
		cn.mu.Unlock()
	}
	if err := cn.write(ctx, gtmproto.Frame{ID: id, Type: gtmproto.MsgGateEnter, Body: body}); err != nil {
		forget()
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		return 0, fmt.Errorf("%w: %w", errNotSent, cn.deadErr())
	}
	answer := func(f gtmproto.Frame) (uint64, error) {
		if _, err := response(gtmproto.MsgGateEnter, f); err != nil {
			return 0, err
		}
		return id, nil
	}
	select {
	case f := <-ch:
		return answer(f)
	case <-cn.dead:
		forget()
		select {
		case f := <-ch:
			return answer(f)
		default:
		}
		return 0, cn.deadErr()
	case <-ctx.Done():
		forget()
		var e gtmproto.Encoder
		_ = cn.write(context.Background(), gtmproto.Frame{Type: gtmproto.MsgGateLeave, Body: e.Uvarint(id).Bytes()})
		return 0, ctx.Err()
	}
}

// NodeInfo is what a GTM says of its role.
type NodeInfo struct {
	Standby bool
	// PeerConnected: a primary's standby is attached / a standby streams from its primary.
	PeerConnected bool
	// Generation counts promotions (a fresh primary is at 1).
	Generation uint64
	// Peer is the standby's remote address or the standby's primary.
	Peer string
}

// NodeInfo asks the GTM the client is connected to about its role (standbys answer too).
func (c *Client) NodeInfo(ctx context.Context) (NodeInfo, error) {
	cn, err := c.getConn(ctx)
	if err != nil {
		return NodeInfo{}, err
	}
	resp, err := cn.roundTrip(ctx, gtmproto.MsgNodeInfo, nil)
	if err != nil {
		return NodeInfo{}, err
	}
	d := gtmproto.NewDecoder(resp)
	ni := NodeInfo{Standby: d.Bool(), PeerConnected: d.Bool(), Generation: d.Uvarint(), Peer: d.String(gtmproto.MaxAddrLen)}
	return ni, finish(d, "NodeInfo")
}

// Promote turns the GTM the client is connected to, a standby, into the
// primary; it returns the new generation and whether the standby had streamed
// from its primary since it started (if not, it holds only what it logged
// before). Promoting a primary does nothing.
func (c *Client) Promote(ctx context.Context) (generation uint64, wasStreaming bool, err error) {
	cn, err := c.getConn(ctx)
	if err != nil {
		return 0, false, err
	}
	resp, err := cn.roundTrip(ctx, gtmproto.MsgPromote, nil)
	if err != nil {
		return 0, false, err
	}
	d := gtmproto.NewDecoder(resp)
	generation, wasStreaming = d.Uvarint(), d.Bool()
	return generation, wasStreaming, finish(d, "Promote")
}
