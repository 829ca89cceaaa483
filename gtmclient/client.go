package gtmclient

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xlgo/xlgo/gtm/gtmproto"
)

// ErrUnavailable is wrapped by every error caused by not reaching the GTM.
var ErrUnavailable = errors.New("gtm unavailable")

// ErrDecisionConflict is wrapped by LogDecision's error when the GTM already
// holds the opposite decision for the gid (the first decision stands).
var ErrDecisionConflict = errors.New("gtm: conflicting decision already logged")

// ErrClosed is returned by calls on a closed Client.
var ErrClosed = errors.New("gtm client closed")

// ServerError is a request the GTM received and refused.
type ServerError struct {
	Code    gtmproto.ErrorCode
	Message string
}

func (e *ServerError) Error() string { return "gtm: " + e.Message }

// SQLState is the PostgreSQL SQLSTATE for the refusal (42P01 for a missing
// sequence, 42P07 for a duplicate, 2200H at a sequence's limit ...).
func (e *ServerError) SQLState() string { return e.Code.SQLState() }

// Is makes errors.Is(err, ErrDecisionConflict) hold for a conflict refusal.
func (e *ServerError) Is(target error) bool {
	return target == ErrDecisionConflict && e.Code == gtmproto.CodeDecisionConflict
}

// DecisionState is what the GTM knows about a gid.
type DecisionState int

// Decision states.
const (
	Unknown DecisionState = iota
	Committed
	Aborted
)

// String names the state.
func (s DecisionState) String() string {
	switch s {
	case Unknown:
		return "unknown"
	case Committed:
		return "committed"
	case Aborted:
		return "aborted"
	}
	return fmt.Sprintf("DecisionState(%d)", int(s))
}

// Decision is a logged commit decision for a prepared distributed transaction.
type Decision struct {
	GID          string
	Participants []string
	Commit       bool
}

// errNotSent marks a request that never reached the GTM whole (safe to retry).
var errNotSent = errors.New("request not sent")

const (
	dialTimeout    = 5 * time.Second
	writeTimeout   = 10 * time.Second
	minBackoff     = 20 * time.Millisecond
	maxBackoff     = time.Second
	watchDialLimit = 5 * time.Second
)

// Client is a coordinator's connection to the GTM, safe for concurrent use.
// Calls share one TCP connection with many requests in flight.
type Client struct {
	addrs  []string
	dialer net.Dialer

	mu     sync.Mutex
	cur    *conn
	prefer int // index in addrs of the address to dial first
	closed bool
	done   chan struct{}

	dialMu sync.Mutex

	gxMu          sync.Mutex
	gxNext, gxEnd uint64 // the ids NextGXID has yet to hand out

	forgets forgetQueue

	held map[*heldGrant]struct{} // committers' grants not released (guarded by mu)

	watchMu  sync.Mutex
	watchFn  func(uint64)
	fenceFn  func(uint64)
	watching bool
	subConn  atomic.Pointer[conn]
}

// Dial connects to the GTM at addr: "host:port", or a comma-separated list of
// the primary and its standbys ("h1:p1,h2:p2"). The client reconnects by
// itself when the connection breaks, trying every address in turn, and moves
// on to the next address when the one it reached answers that it is a
// standby, so it finds a promoted standby by itself. A call made while
// disconnected tries to reconnect within its context and else returns an error
// that wraps ErrUnavailable. A call whose request may have run when the
// connection broke is retried on the next connection only when running it
// twice is harmless (NextGXID, reads, LogDecision, Forget, SeqNextRange,
// GateEnter); the others return ErrUnavailable.
func Dial(ctx context.Context, addr string) (*Client, error) {
	var addrs []string
	for _, a := range strings.Split(addr, ",") {
		if a = strings.TrimSpace(a); a != "" {
			addrs = append(addrs, a)
		}
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("%w: no gtm address", ErrUnavailable)
	}
	c := &Client{addrs: addrs, done: make(chan struct{})}
	c.dialer.KeepAlive = 15 * time.Second
	c.dialer.Timeout = dialTimeout
	if _, err := c.getConn(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// getConn returns the live connection, dialing every address in turn (from the
// preferred one) if there is none.
func (c *Client) getConn(ctx context.Context) (*conn, error) {
	if cn, err := c.current(); cn != nil || err != nil {
		return cn, err
	}
	c.dialMu.Lock()
	defer c.dialMu.Unlock()
	if cn, err := c.current(); cn != nil || err != nil {
		return cn, err
	}
	c.mu.Lock()
	start := c.prefer
	c.mu.Unlock()
	var errs []string
	for k := range c.addrs {
		i := (start + k) % len(c.addrs)
		addr := c.addrs[i]
		nc, err := c.dialer.DialContext(ctx, "tcp", addr)
		if err != nil {
			errs = append(errs, fmt.Sprintf("dial %s: %v", addr, err))
			if ctx.Err() != nil {
				break
			}
			continue
		}
		cn := newConn(nc, i)
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			nc.Close()
			return nil, ErrClosed
		}
		c.cur = cn
		c.prefer = i
		resume := len(c.held) > 0
		c.mu.Unlock()
		go cn.readLoop()
		if resume {
			go c.resumeGrants(cn)
		}
		return cn, nil
	}
	return nil, fmt.Errorf("%w: %s", ErrUnavailable, strings.Join(errs, "; "))
}

// abandon drops cn (its GTM answered that it is a standby) and makes the next
// address the first one to dial.
func (c *Client) abandon(cn *conn) {
	cn.close(errStandby)
	c.mu.Lock()
	if c.prefer == cn.addrIdx {
		c.prefer = (cn.addrIdx + 1) % len(c.addrs)
	}
	c.mu.Unlock()
}

// Addrs are the GTM addresses the client tries, in the configured order.
func (c *Client) Addrs() []string { return slices.Clone(c.addrs) }

// errStandby closes a connection to a GTM that is a standby.
var errStandby = errors.New("gtm is a standby")

// retrySafe lists the requests that may run twice without harm: they are
// retried on a new connection when the connection broke after sending them.
var retrySafe = map[gtmproto.MsgType]bool{
	gtmproto.MsgNextGXID:      true, // a lost id is skipped
	gtmproto.MsgNextGXIDs:     true,
	gtmproto.MsgForgetMany:    true,
	gtmproto.MsgLogDecision:   true, // logging the same decision again succeeds
	gtmproto.MsgForget:        true,
	gtmproto.MsgDecision:      true,
	gtmproto.MsgListDecisions: true,
	gtmproto.MsgCatalogEpoch:  true,
	gtmproto.MsgWatchCatalog:  true,
	gtmproto.MsgSeqNextRange:  true, // a lost range is skipped, never handed out again
	gtmproto.MsgSeqCurrent:    true,
	gtmproto.MsgNodeInfo:      true,
	gtmproto.MsgRecordPut:     true, // setting the same value again changes nothing
	gtmproto.MsgRecordList:    true,
}

// roundTrip sends one request on the current connection (reconnecting, and
// moving past standbys, as Dial describes) and returns the response body and
// the connection that answered.
func (c *Client) roundTrip(ctx context.Context, t gtmproto.MsgType, body []byte) (*conn, []byte, error) {
	var lastErr error
	for attempt := 0; attempt <= len(c.addrs); attempt++ {
		if err := ctx.Err(); err != nil {
			if lastErr != nil {
				return nil, nil, lastErr
			}
			return nil, nil, err
		}
		cn, err := c.getConn(ctx)
		if err != nil {
			return nil, nil, err
		}
		resp, err := cn.roundTrip(ctx, t, body)
		if err == nil {
			return cn, resp, nil
		}
		var se *ServerError
		switch {
		case errors.As(err, &se) && se.Code == gtmproto.CodeStandby:
			// Refused without running: try the next address.
			c.abandon(cn)
			lastErr = fmt.Errorf("%w: %s: %s", ErrUnavailable, c.addrs[cn.addrIdx], se.Message)
			continue
		case errors.Is(err, errNotSent), errors.Is(err, ErrUnavailable) && retrySafe[t]:
			lastErr = err
			continue
		}
		return nil, nil, err
	}
	return nil, nil, lastErr
}

func (c *Client) current() (*conn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	if c.cur != nil && !c.cur.isDead() {
		return c.cur, nil
	}
	return nil, nil
}

// call sends one request and waits for its response body.
func (c *Client) call(ctx context.Context, t gtmproto.MsgType, body []byte) (*gtmproto.Decoder, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	_, resp, err := c.roundTrip(ctx, t, body)
	if err != nil {
		return nil, err
	}
	return gtmproto.NewDecoder(resp), nil
}

func finish(d *gtmproto.Decoder, what string) error {
	if err := d.Finish(); err != nil {
		return fmt.Errorf("gtm %s response: %w", what, err)
	}
	return nil
}

// GXIDRange is how many global transaction ids NextGXID takes from the GTM
// at a time.
const GXIDRange = 256

// NextGXID returns a new global transaction id, never handed out before (to
// anyone). The client takes GXIDRange ids at a time from the GTM and hands
// them out itself: a two-phase commit needs no round trip for its id. It
// fails with ErrUnavailable when the GTM cannot be reached, as a round trip
// would.
func (c *Client) NextGXID(ctx context.Context) (uint64, error) {
	// A range in hand does not show the GTM can be reached, and a commit
	// must not prepare on its datanodes when its decision cannot be logged
	// (the prepared transactions would hold their locks until the GTM is
	// back): the live connection, or a new one, does, with no round trip
	// while it is up.
	if _, err := c.getConn(ctx); err != nil {
		return 0, err
	}
	c.gxMu.Lock()
	defer c.gxMu.Unlock()
	if c.gxNext == c.gxEnd {
		var e gtmproto.Encoder
		d, err := c.call(ctx, gtmproto.MsgNextGXIDs, e.Uvarint(GXIDRange).Bytes())
		if err != nil {
			return 0, err
		}
		first := d.Uvarint()
		if err := finish(d, "NextGXIDs"); err != nil {
			return 0, err
		}
		c.gxNext, c.gxEnd = first, first+GXIDRange
	}
	id := c.gxNext
	c.gxNext++
	return id, nil
}

// LogDecision durably records the decision for gid; it returns after the GTM fsynced it.
func (c *Client) LogDecision(ctx context.Context, gid string, participants []string, commit bool) error {
	var e gtmproto.Encoder
	e.Decision(gtmproto.Decision{GID: gid, Participants: participants, Commit: commit})
	d, err := c.call(ctx, gtmproto.MsgLogDecision, e.Bytes())
	if err != nil {
		return err
	}
	return finish(d, "LogDecision")
}

// Forget tells the GTM every participant has finished gid.
func (c *Client) Forget(ctx context.Context, gid string) error {
	var e gtmproto.Encoder
	d, err := c.call(ctx, gtmproto.MsgForget, e.String(gid).Bytes())
	if err != nil {
		return err
	}
	return finish(d, "Forget")
}

// Decision reports the logged decision for gid (Unknown if none or forgotten).
func (c *Client) Decision(ctx context.Context, gid string) (DecisionState, error) {
	var e gtmproto.Encoder
	d, err := c.call(ctx, gtmproto.MsgDecision, e.String(gid).Bytes())
	if err != nil {
		return Unknown, err
	}
	st := gtmproto.DecisionState(d.Uvarint())
	if err := finish(d, "Decision"); err != nil {
		return Unknown, err
	}
	switch st {
	case gtmproto.StateUnknown:
		return Unknown, nil
	case gtmproto.StateCommitted:
		return Committed, nil
	case gtmproto.StateAborted:
		return Aborted, nil
	}
	return Unknown, fmt.Errorf("gtm Decision response: unknown state %d", st)
}

// ListDecisions returns every decision not yet forgotten, ordered by gid.
func (c *Client) ListDecisions(ctx context.Context) ([]Decision, error) {
	d, err := c.call(ctx, gtmproto.MsgListDecisions, nil)
	if err != nil {
		return nil, err
	}
	n := d.Uvarint()
	var out []Decision
	for i := uint64(0); i < n; i++ {
		dec := d.Decision()
		if d.Err() != nil {
			break
		}
		out = append(out, Decision{GID: dec.GID, Participants: dec.Participants, Commit: dec.Commit})
	}
	if err := finish(d, "ListDecisions"); err != nil {
		return nil, err
	}
	return out, nil
}

// CatalogEpoch returns the GTM's current catalog epoch.
func (c *Client) CatalogEpoch(ctx context.Context) (uint64, error) {
	d, err := c.call(ctx, gtmproto.MsgCatalogEpoch, nil)
	if err != nil {
		return 0, err
	}
	e := d.Uvarint()
	return e, finish(d, "CatalogEpoch")
}

// Claim records value under key at the gtm unless key is claimed already,
// and returns the value that holds: the first claim of a key wins, durably.
// An empty value only reads the key ("" when it is not claimed).
func (c *Client) Claim(ctx context.Context, key, value string) (string, error) {
	var e gtmproto.Encoder
	d, err := c.call(ctx, gtmproto.MsgClaim, e.String(key).String(value).Bytes())
	if err != nil {
		return "", err
	}
	won := d.String(gtmproto.MaxClaimLen)
	return won, finish(d, "Claim")
}

// PutRecord sets a durable record at the gtm ("" removes it).
func (c *Client) PutRecord(ctx context.Context, key, value string) error {
	var e gtmproto.Encoder
	d, err := c.call(ctx, gtmproto.MsgRecordPut, e.String(key).String(value).Bytes())
	if err != nil {
		return err
	}
	return finish(d, "RecordPut")
}

// Records lists the gtm's records whose key starts with prefix.
func (c *Client) Records(ctx context.Context, prefix string) (map[string]string, error) {
	var e gtmproto.Encoder
	d, err := c.call(ctx, gtmproto.MsgRecordList, e.String(prefix).Bytes())
	if err != nil {
		return nil, err
	}
	n := d.Uvarint()
	out := map[string]string{}
	for i := uint64(0); i < n && d.Err() == nil; i++ {
		k := d.String(gtmproto.MaxClaimLen)
		out[k] = d.String(gtmproto.MaxClaimLen)
	}
	return out, finish(d, "RecordList")
}

// BumpCatalogEpoch increments the catalog epoch and returns the new value once
// every subscribed coordinator has acknowledged it (or was disconnected).
func (c *Client) BumpCatalogEpoch(ctx context.Context) (uint64, error) {
	return c.bumpCatalog(ctx, nil)
}

// BumpCatalogFence bumps the catalog epoch as a fence: every subscribed
// coordinator acknowledges it only once no statement it planned under the
// older catalog still runs (see WatchFences).
func (c *Client) BumpCatalogFence(ctx context.Context) (uint64, error) {
	var e gtmproto.Encoder
	return c.bumpCatalog(ctx, e.Bool(true).Bytes())
}

func (c *Client) bumpCatalog(ctx context.Context, body []byte) (uint64, error) {
	d, err := c.call(ctx, gtmproto.MsgBumpCatalogEpoch, body)
	if err != nil {
		return 0, err
	}
	e := d.Uvarint()
	return e, finish(d, "BumpCatalogEpoch")
}

// WatchCatalog subscribes to catalog epoch changes: fn runs (serially) for
// every new epoch, and also with the current epoch right after every
// (re)subscription, so a client that was disconnected re-reads; the GTM gets
// the acknowledgement after fn returns. A later call replaces fn.
// Connected() tells whether the subscription is live now.
func (c *Client) WatchCatalog(fn func(epoch uint64)) {
	c.watchMu.Lock()
	defer c.watchMu.Unlock()
	c.watchFn = fn
	if c.watching {
		return
	}
	c.watching = true
	go c.watchLoop()
}

// WatchFences sets what runs, after WatchCatalog's callback and before the
// acknowledgement, for an epoch bumped as a fence.
func (c *Client) WatchFences(fn func(epoch uint64)) {
	c.watchMu.Lock()
	defer c.watchMu.Unlock()
	c.fenceFn = fn
}

func (c *Client) fenceCallback() func(uint64) {
	c.watchMu.Lock()
	defer c.watchMu.Unlock()
	return c.fenceFn
}

func (c *Client) callback() func(uint64) {
	c.watchMu.Lock()
	defer c.watchMu.Unlock()
	return c.watchFn
}

// Connected reports whether the catalog subscription is live (when WatchCatalog
// was called), else whether the connection is up.
func (c *Client) Connected() bool {
	c.watchMu.Lock()
	watching := c.watching
	c.watchMu.Unlock()
	if watching {
		cn := c.subConn.Load()
		return cn != nil && !cn.isDead()
	}
	cn, _ := c.current()
	return cn != nil
}

// Close closes the connection and stops the catalog subscription. A callback
// running at that moment finishes on its own.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	close(c.done)
	cn := c.cur
	c.cur = nil
	c.mu.Unlock()
	if cn != nil {
		cn.close(ErrClosed)
	}
	return nil
}

// watchLoop keeps the catalog subscription alive until Close.
func (c *Client) watchLoop() {
	backoff := minBackoff
	for {
		select {
		case <-c.done:
			return
		default:
		}
		cn, epoch, err := c.subscribe()
		if err != nil {
			if errors.Is(err, ErrClosed) {
				return
			}
			select {
			case <-c.done:
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, maxBackoff)
			continue
		}
		backoff = minBackoff
		c.follow(cn, epoch)
		c.subConn.CompareAndSwap(cn, nil)
	}
}

// subscribe (re)subscribes on the current connection and returns the current epoch.
func (c *Client) subscribe() (*conn, uint64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), watchDialLimit)
	defer cancel()
	go func() {
		select {
		case <-c.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	cn, resp, err := c.roundTrip(ctx, gtmproto.MsgWatchCatalog, nil)
	if err != nil {
		return nil, 0, err
	}
	d := gtmproto.NewDecoder(resp)
	epoch := d.Uvarint()
	if err := finish(d, "WatchCatalog"); err != nil {
		cn.close(err)
		return nil, 0, err
	}
	return cn, epoch, nil
}

// follow runs the callback for the subscription's first epoch and then for
// every notified one, acknowledging each, until the connection dies.
func (c *Client) follow(cn *conn, epoch uint64) {
	c.callback()(epoch)
	if !cn.ack(epoch) {
		return
	}
	c.subConn.Store(cn)
	last := epoch
	for {
		select {
		case <-c.done:
			return
		case <-cn.dead:
			return
		case <-cn.noteSig:
		}
		for _, n := range cn.takeNotes() {
			e := n.epoch
			if e > last {
				c.callback()(e)
				last = e
				if fn := c.fenceCallback(); n.fence && fn != nil {
					fn(e)
				}
			}
			if !cn.ack(e) {
				return
			}
		}
	}
}

// conn is one TCP connection to the GTM and its reader.
type conn struct {
	nc      net.Conn
	addrIdx int // which of the client's addresses
	wmu     sync.Mutex

	mu      sync.Mutex
	nextID  uint64
	pending map[uint64]chan gtmproto.Frame
	err     error
	notes   []note

	noteSig chan struct{} // capacity 1: notes were added
	dead    chan struct{} // closed when the connection is gone
	once    sync.Once
}

func newConn(nc net.Conn, addrIdx int) *conn {
	return &conn{
		nc:      nc,
		addrIdx: addrIdx,
		pending: map[uint64]chan gtmproto.Frame{},
		noteSig: make(chan struct{}, 1),
		dead:    make(chan struct{}),
	}
}

func (cn *conn) isDead() bool {
	select {
	case <-cn.dead:
		return true
	default:
		return false
	}
}

func (cn *conn) close(err error) {
	cn.once.Do(func() {
		cn.mu.Lock()
		cn.err = err
		cn.mu.Unlock()
		close(cn.dead)
		cn.nc.Close()
	})
}

func (cn *conn) deadErr() error {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	if errors.Is(cn.err, ErrClosed) {
		return ErrClosed
	}
	return fmt.Errorf("%w: connection lost: %v", ErrUnavailable, cn.err)
}

func (cn *conn) readLoop() {
	r := bufio.NewReader(cn.nc)
	for {
		f, err := gtmproto.ReadFrame(r, gtmproto.MaxResponseFrame)
		if err != nil {
			cn.close(err)
			return
		}
		if f.Type == gtmproto.MsgCatalogNotify {
			d := gtmproto.NewDecoder(f.Body)
			e := d.Uvarint()
			fence := d.More() && d.Bool()
			if err := d.Finish(); err != nil {
				cn.close(fmt.Errorf("catalog notify: %w", err))
				return
			}
			cn.mu.Lock()
			cn.notes = append(cn.notes, note{epoch: e, fence: fence})
			cn.mu.Unlock()
			select {
			case cn.noteSig <- struct{}{}:
			default:
			}
			continue
		}
		cn.mu.Lock()
		ch := cn.pending[f.ID]
		delete(cn.pending, f.ID)
		cn.mu.Unlock()
		if ch != nil {
			ch <- f // buffered; a caller that gave up simply never reads it
		}
	}
}

// note is a catalog notification.
type note struct {
	epoch uint64
	fence bool
}

func (cn *conn) takeNotes() []note {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	n := cn.notes
	cn.notes = nil
	return n
}

// write sends frames with one write.
func (cn *conn) write(ctx context.Context, frames ...gtmproto.Frame) error {
	var buf []byte
	for _, f := range frames {
		buf = gtmproto.AppendFrame(buf, f)
	}
	cn.wmu.Lock()
	defer cn.wmu.Unlock()
	deadline := time.Now().Add(writeTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = cn.nc.SetWriteDeadline(deadline)
	if _, err := cn.nc.Write(buf); err != nil {
		// A partial frame would desynchronize the stream: drop the connection.
		cn.close(err)
		return err
	}
	return nil
}

// ack tells the GTM every epoch up to e is applied; false if the connection is gone.
func (cn *conn) ack(e uint64) bool {
	var enc gtmproto.Encoder
	err := cn.write(context.Background(), gtmproto.Frame{Type: gtmproto.MsgCatalogAck, Body: enc.Uvarint(e).Bytes()})
	return err == nil
}

func (cn *conn) roundTrip(ctx context.Context, t gtmproto.MsgType, body []byte) ([]byte, error) {
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
	if err := cn.write(ctx, gtmproto.Frame{ID: id, Type: t, Body: body}); err != nil {
		forget()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		// A frame not written whole is never run by the GTM.
		return nil, fmt.Errorf("%w: %w", errNotSent, cn.deadErr())
	}
	select {
	case f := <-ch:
		return response(t, f)
	case <-cn.dead:
		forget()
		// The response may have arrived just before the connection died.
		select {
		case f := <-ch:
			return response(t, f)
		default:
		}
		return nil, cn.deadErr()
	case <-ctx.Done():
		forget()
		return nil, ctx.Err()
	}
}

func response(t gtmproto.MsgType, f gtmproto.Frame) ([]byte, error) {
	switch f.Type {
	case gtmproto.MsgOK:
		return f.Body, nil
	case gtmproto.MsgError:
		code, msg, err := gtmproto.DecodeError(f.Body)
		if err != nil {
			return nil, fmt.Errorf("gtm error response: %w", err)
		}
		return nil, &ServerError{Code: code, Message: msg}
	}
	return nil, fmt.Errorf("gtm %s: unexpected response type %s", t, f.Type)
}
