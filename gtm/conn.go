package gtm

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xlgo/xlgo/gtm/gtmproto"
)

const (
	// maxInFlight bounds concurrent requests per connection; the reader waits when it is reached.
	maxInFlight = 256
	// writeTimeout bounds one frame write so a stuck client cannot hold a handler.
	writeTimeout = 10 * time.Second
)

// serverConn is one client connection. Its reader runs requests concurrently,
// each in its own goroutine, so a slow request (a catalog bump waiting for acks)
// does not hold up the others; responses are written whole under wmu.
type serverConn struct {
	s      *Server
	nc     net.Conn
	remote string

	wmu sync.Mutex

	closeOnce sync.Once
	done      chan struct{}
	closed    atomic.Bool
	inFlight  chan struct{}
	handlers  sync.WaitGroup
}

func newServerConn(s *Server, nc net.Conn) *serverConn {
	return &serverConn{
		s:        s,
		nc:       nc,
		remote:   nc.RemoteAddr().String(),
		done:     make(chan struct{}),
		inFlight: make(chan struct{}, maxInFlight),
	}
}

func (c *serverConn) close() {
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		close(c.done)
		c.nc.Close()
	})
}

func (c *serverConn) isClosed() bool { return c.closed.Load() }

// send writes one frame; a failed write closes the connection.
func (c *serverConn) send(f gtmproto.Frame) {
	if c.isClosed() {
		return
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
	if err := gtmproto.WriteFrame(c.nc, f); err != nil {
		if !c.isClosed() {
			c.s.logger.Debug("gtm write failed; closing connection", "remote", c.remote, "err", err)
		}
		c.close()
	}
}

func (c *serverConn) serve() {
	log := c.s.logger.With("remote", c.remote)
	log.Debug("gtm connection opened")
	defer func() {
		c.close()
		c.handlers.Wait()
		c.s.removeConn(c)
		log.Debug("gtm connection closed")
	}()
	r := bufio.NewReader(c.nc)
	for {
		f, err := gtmproto.ReadFrame(r, gtmproto.MaxRequestFrame)
		if err != nil {
			switch {
			case c.isClosed(), errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
			case errors.Is(err, gtmproto.ErrFrameTooLarge), errors.Is(err, gtmproto.ErrFrameTooShort):
				log.Warn("bad frame from client; closing connection", "err", err)
			default:
				log.Info("gtm connection read failed; closing it", "err", err)
			}
			return
		}
		if f.Type == gtmproto.MsgCatalogAck {
			d := gtmproto.NewDecoder(f.Body)
			epoch := d.Uvarint()
			if err := d.Finish(); err != nil {
				log.Warn("malformed catalog ack; closing connection", "err", err)
				return
			}
			c.s.ack(c, epoch)
			continue
		}
		// The gate is served inline, in frame order, so a GateLeave always
		// finds the GateEnter it names.
		switch f.Type {
		case gtmproto.MsgGateEnter:
			d := gtmproto.NewDecoder(f.Body)
			kind := gtmproto.GateKind(d.Uvarint())
			if err := d.Finish(); err != nil {
				log.Warn("malformed gate request; closing connection", "err", err)
				return
			}
			c.gateEnter(f.ID, kind)
			continue
		case gtmproto.MsgGateLeave:
			d := gtmproto.NewDecoder(f.Body)
			token := d.Uvarint()
			if err := d.Finish(); err != nil {
				log.Warn("malformed gate release; closing connection", "err", err)
				return
			}
			c.grantGate(c.s.gate.leave(c, token))
			continue
		case gtmproto.MsgReplAck:
			d := gtmproto.NewDecoder(f.Body)
			end := d.Uvarint()
			if err := d.Finish(); err != nil {
				log.Warn("malformed replication ack; closing connection", "err", err)
				return
			}
			c.s.replAck(c, int64(end))
			continue
		}
		select {
		case c.inFlight <- struct{}{}:
		case <-c.done:
			return
		}
		c.handlers.Add(1)
		go func() {
			defer func() {
				<-c.inFlight
				c.handlers.Done()
			}()
			c.handle(f)
		}()
	}
}

// gateEnter queues a GateEnter request (answered when granted).
func (c *serverConn) gateEnter(id uint64, kind gtmproto.GateKind) {
	fail := func(code gtmproto.ErrorCode, msg string) {
		c.send(gtmproto.Frame{ID: id, Type: gtmproto.MsgError, Body: gtmproto.EncodeError(code, msg)})
	}
	switch {
	case c.s.standby.Load():
		fail(gtmproto.CodeStandby, c.s.standbyMessage())
	case !c.s.serving():
		fail(gtmproto.CodeStandby, c.s.notServingMessage())
	case !validGateKind(kind) && kind != gtmproto.GateCommitterResume:
		fail(gtmproto.CodeInvalid, fmt.Sprintf("invalid request: unknown gate kind %d", kind))
	default:
		granted, ok := c.s.gate.enter(c, id, kind)
		if !ok {
			fail(gtmproto.CodeInvalid, fmt.Sprintf("invalid request: gate token %d is already in use on this connection", id))
			return
		}
		c.grantGate(granted)
	}
}

// grantGate answers the GateEnter requests the gate granted: on c itself at
// once, on other connections without waiting, so one slow client never
// holds up this connection's reader.
func (c *serverConn) grantGate(granted []*gateEntry) {
	for _, e := range granted {
		f := gtmproto.Frame{ID: e.id, Type: gtmproto.MsgOK}
		if e.conn == c {
			e.conn.send(f)
		} else {
			go e.conn.send(f)
		}
	}
}

// onStandby lists the requests a standby serves.
var onStandby = map[gtmproto.MsgType]bool{gtmproto.MsgPromote: true, gtmproto.MsgNodeInfo: true, gtmproto.MsgVote: true}

// whileNotServing are the requests a primary that may not serve (serving)
// still answers: the ones that let it serve again or tell about it.
var whileNotServing = map[gtmproto.MsgType]bool{gtmproto.MsgLease: true, gtmproto.MsgVote: true, gtmproto.MsgNodeInfo: true,
	gtmproto.MsgReplicate: true, gtmproto.MsgPromote: true}

func (s *Server) standbyMessage() string {
	return fmt.Sprintf("gtm is a standby (of %s); promote it first", s.opts.standbyOf)
}

// handle runs one request and writes its response.
func (c *serverConn) handle(f gtmproto.Frame) {
	h, ok := handlers[f.Type]
	if !ok {
		c.send(gtmproto.Frame{ID: f.ID, Type: gtmproto.MsgError,
			Body: gtmproto.EncodeError(gtmproto.CodeUnknownRequest, fmt.Sprintf("unknown request type %s", f.Type))})
		return
	}
	if c.s.standby.Load() && !onStandby[f.Type] {
		c.send(gtmproto.Frame{ID: f.ID, Type: gtmproto.MsgError, Body: gtmproto.EncodeError(gtmproto.CodeStandby, c.s.standbyMessage())})
		return
	}
	if !whileNotServing[f.Type] && !c.s.serving() {
		c.send(gtmproto.Frame{ID: f.ID, Type: gtmproto.MsgError, Body: gtmproto.EncodeError(gtmproto.CodeStandby, c.s.notServingMessage())})
		return
	}
	var body []byte
	var err error
	if f.Type == gtmproto.MsgReplicate {
		err = c.replicate(f.ID, gtmproto.NewDecoder(f.Body))
	} else {
		start := time.Now()
		body, err = h(c, gtmproto.NewDecoder(f.Body))
		c.s.m.requests[f.Type].Observe(time.Since(start).Seconds())
	}
	if errors.Is(err, errNoResponse) {
		return
	}
	if err != nil {
		if f.Type != gtmproto.MsgReplicate {
			c.s.m.requestErrors[f.Type].Inc()
		}
		if errors.Is(err, gtmproto.ErrMalformed) {
			c.s.logger.Warn("malformed request; closing connection", "remote", c.remote, "type", f.Type.String(), "err", err)
			c.close()
			return
		}
		code := errorCode(err)
		if code == gtmproto.CodeInternal {
			c.s.logger.Error("gtm request failed", "remote", c.remote, "type", f.Type.String(), "err", err)
		}
		c.send(gtmproto.Frame{ID: f.ID, Type: gtmproto.MsgError, Body: gtmproto.EncodeError(code, err.Error())})
		return
	}
	c.send(gtmproto.Frame{ID: f.ID, Type: gtmproto.MsgOK, Body: body})
}

func errorCode(err error) gtmproto.ErrorCode {
	switch {
	case errors.Is(err, ErrDecisionConflict):
		return gtmproto.CodeDecisionConflict
	case errors.Is(err, ErrInvalid):
		return gtmproto.CodeInvalid
	case errors.Is(err, ErrClosed):
		return gtmproto.CodeShuttingDown
	case errors.Is(err, ErrStandby):
		return gtmproto.CodeStandby
	}
	var ce *codedError
	if errors.As(err, &ce) {
		return ce.code
	}
	return gtmproto.CodeInternal
}

// handler decodes a request body (returning an error wrapping
// gtmproto.ErrMalformed if it does not decode) and returns the response body.
type handler func(c *serverConn, d *gtmproto.Decoder) ([]byte, error)

// handlers dispatches requests by type; a new request type is one more entry.
var handlers = map[gtmproto.MsgType]handler{
	gtmproto.MsgNextGXID: func(c *serverConn, d *gtmproto.Decoder) ([]byte, error) {
		if err := d.Finish(); err != nil {
			return nil, err
		}
		id, err := c.s.NextGXID()
		if err != nil {
			return nil, err
		}
		return encodeUvarint(id), nil
	},
	gtmproto.MsgNextGXIDs: func(c *serverConn, d *gtmproto.Decoder) ([]byte, error) {
		n := d.Uvarint()
		if err := d.Finish(); err != nil {
			return nil, err
		}
		id, err := c.s.NextGXIDs(n)
		if err != nil {
			return nil, err
		}
		return encodeUvarint(id), nil
	},
	gtmproto.MsgForgetMany: func(c *serverConn, d *gtmproto.Decoder) ([]byte, error) {
		gids := d.Strings(gtmproto.MaxForgetBatch, gtmproto.MaxGIDLen)
		if err := d.Finish(); err != nil {
			return nil, err
		}
		return nil, c.s.ForgetMany(gids)
	},
	gtmproto.MsgLogDecision: func(c *serverConn, d *gtmproto.Decoder) ([]byte, error) {
		dec := d.Decision()
		if err := d.Finish(); err != nil {
			return nil, err
		}
		return nil, c.s.LogDecision(dec)
	},
	gtmproto.MsgForget: func(c *serverConn, d *gtmproto.Decoder) ([]byte, error) {
		gid := d.String(gtmproto.MaxGIDLen)
		if err := d.Finish(); err != nil {
			return nil, err
		}
		return nil, c.s.Forget(gid)
	},
	gtmproto.MsgDecision: func(c *serverConn, d *gtmproto.Decoder) ([]byte, error) {
		gid := d.String(gtmproto.MaxGIDLen)
		if err := d.Finish(); err != nil {
			return nil, err
		}
		st, err := c.s.Decision(gid)
		if err != nil {
			return nil, err
		}
		return encodeUvarint(uint64(st)), nil
	},
	gtmproto.MsgListDecisions: func(c *serverConn, d *gtmproto.Decoder) ([]byte, error) {
		if err := d.Finish(); err != nil {
			return nil, err
		}
		list, err := c.s.ListDecisions()
		if err != nil {
			return nil, err
		}
		var e gtmproto.Encoder
		e.Uvarint(uint64(len(list)))
		for _, dec := range list {
			e.Decision(dec)
		}
		return e.Bytes(), nil
	},
	gtmproto.MsgCatalogEpoch: func(c *serverConn, d *gtmproto.Decoder) ([]byte, error) {
		if err := d.Finish(); err != nil {
			return nil, err
		}
		return encodeUvarint(c.s.CatalogEpoch()), nil
	},
	gtmproto.MsgBumpCatalogEpoch: func(c *serverConn, d *gtmproto.Decoder) ([]byte, error) {
		fence := d.More() && d.Bool()
		if err := d.Finish(); err != nil {
			return nil, err
		}
		e, err := c.s.bumpCatalogEpoch(fence)
		if err != nil {
			return nil, err
		}
		return encodeUvarint(e), nil
	},
	gtmproto.MsgWatchCatalog: func(c *serverConn, d *gtmproto.Decoder) ([]byte, error) {
		if err := d.Finish(); err != nil {
			return nil, err
		}
		return encodeUvarint(c.s.subscribe(c)), nil
	},
	gtmproto.MsgLease: func(c *serverConn, d *gtmproto.Decoder) ([]byte, error) {
		name := d.String(gtmproto.MaxNodeNameLen)
		coordinators := d.Uvarint()
		if err := d.Finish(); err != nil {
			return nil, err
		}
		c.s.lease(name, int(min(coordinators, 1<<16)))
		return nil, nil
	},
	gtmproto.MsgVote: func(c *serverConn, d *gtmproto.Decoder) ([]byte, error) {
		name := d.String(gtmproto.MaxNodeNameLen)
		coordinators := d.Uvarint()
		if err := d.Finish(); err != nil {
			return nil, err
		}
		var e gtmproto.Encoder
		return e.Bool(c.s.vote(name, int(min(coordinators, 1<<16)))).Bytes(), nil
	},
	gtmproto.MsgClaim: func(c *serverConn, d *gtmproto.Decoder) ([]byte, error) {
		key := d.String(gtmproto.MaxClaimLen)
		value := d.String(gtmproto.MaxClaimLen)
		if err := d.Finish(); err != nil {
			return nil, err
		}
		won, err := c.s.Claim(key, value)
		if err != nil {
			return nil, err
		}
		return encodeString(won), nil
	},
	gtmproto.MsgRecordPut: func(c *serverConn, d *gtmproto.Decoder) ([]byte, error) {
		key := d.String(gtmproto.MaxClaimLen)
		value := d.String(gtmproto.MaxClaimLen)
		if err := d.Finish(); err != nil {
			return nil, err
		}
		return nil, c.s.PutRecord(key, value)
	},
	gtmproto.MsgRecordList: func(c *serverConn, d *gtmproto.Decoder) ([]byte, error) {
		prefix := d.String(gtmproto.MaxClaimLen)
		if err := d.Finish(); err != nil {
			return nil, err
		}
		recs := c.s.Records(prefix)
		var e gtmproto.Encoder
		e.Uvarint(uint64(len(recs)))
		for _, k := range slices.Sorted(maps.Keys(recs)) {
			e.String(k).String(recs[k])
		}
		return e.Bytes(), nil
	},
	gtmproto.MsgSeqCreate: func(c *serverConn, d *gtmproto.Decoder) ([]byte, error) {
		def := d.SeqDef()
		ifNotExists := d.Bool()
		if err := d.Finish(); err != nil {
			return nil, err
		}
		return nil, c.s.SeqCreate(def, ifNotExists)
	},
	gtmproto.MsgSeqDrop: func(c *serverConn, d *gtmproto.Decoder) ([]byte, error) {
		name := d.String(gtmproto.MaxSeqNameLen)
		ifExists := d.Bool()
		if err := d.Finish(); err != nil {
			return nil, err
		}
		return nil, c.s.SeqDrop(name, ifExists)
	},
	gtmproto.MsgSeqAlter: func(c *serverConn, d *gtmproto.Decoder) ([]byte, error) {
		name := d.String(gtmproto.MaxSeqNameLen)
		fields := gtmproto.SeqField(d.Uvarint())
		def := d.SeqDef()
		restart := d.Varint()
		ifExists := d.Bool()
		if err := d.Finish(); err != nil {
			return nil, err
		}
		def.Name = name
		return nil, c.s.SeqAlter(def, fields, restart, ifExists)
	},
	gtmproto.MsgSeqNextRange: func(c *serverConn, d *gtmproto.Decoder) ([]byte, error) {
		name := d.String(gtmproto.MaxSeqNameLen)
		count := d.Varint()
		if err := d.Finish(); err != nil {
			return nil, err
		}
		first, n, incr, err := c.s.SeqNextRange(name, count)
		if err != nil {
			return nil, err
		}
		var e gtmproto.Encoder
		return e.Varint(first).Varint(n).Varint(incr).Bytes(), nil
	},
	gtmproto.MsgSeqSetval: func(c *serverConn, d *gtmproto.Decoder) ([]byte, error) {
		name := d.String(gtmproto.MaxSeqNameLen)
		v := d.Varint()
		isCalled := d.Bool()
		if err := d.Finish(); err != nil {
			return nil, err
		}
		return nil, c.s.SeqSetval(name, v, isCalled)
	},
	gtmproto.MsgSeqRename: func(c *serverConn, d *gtmproto.Decoder) ([]byte, error) {
		from := d.String(gtmproto.MaxSeqNameLen)
		to := d.String(gtmproto.MaxSeqNameLen)
		if err := d.Finish(); err != nil {
			return nil, err
		}
		return nil, c.s.SeqRename(from, to)
	},
	gtmproto.MsgSeqCurrent: func(c *serverConn, d *gtmproto.Decoder) ([]byte, error) {
		name := d.String(gtmproto.MaxSeqNameLen)
		if err := d.Finish(); err != nil {
			return nil, err
		}
		def, last, isCalled, err := c.s.SeqCurrent(name)
		if err != nil {
			return nil, err
		}
		var e gtmproto.Encoder
		return e.SeqDef(def).Varint(last).Bool(isCalled).Bytes(), nil
	},
	gtmproto.MsgReplicate: nil, // served by (*serverConn).replicate
	gtmproto.MsgPromote: func(c *serverConn, d *gtmproto.Decoder) ([]byte, error) {
		if err := d.Finish(); err != nil {
			return nil, err
		}
		gen, was, err := c.s.Promote()
		if err != nil {
			return nil, err
		}
		var e gtmproto.Encoder
		return e.Uvarint(gen).Bool(was).Bytes(), nil
	},
	gtmproto.MsgNodeInfo: func(c *serverConn, d *gtmproto.Decoder) ([]byte, error) {
		if err := d.Finish(); err != nil {
			return nil, err
		}
		standby, peerUp, gen, peer := c.s.NodeInfo()
		var e gtmproto.Encoder
		return e.Bool(standby).Bool(peerUp).Uvarint(gen).String(peer).Bytes(), nil
	},
}

// replicate serves MsgReplicate: it streams the log until the connection ends.
func (c *serverConn) replicate(id uint64, d *gtmproto.Decoder) error {
	gen := d.Uvarint()
	if err := d.Finish(); err != nil {
		return err
	}
	return c.s.serveReplica(c, id, gen)
}

// subscriber is a connection following the catalog epoch.
type subscriber struct {
	conn   *serverConn
	acked  atomic.Uint64
	ackSig chan struct{} // capacity 1: "acked changed"
}

func (sub *subscriber) ack(epoch uint64) {
	for {
		cur := sub.acked.Load()
		if epoch <= cur || sub.acked.CompareAndSwap(cur, epoch) {
			break
		}
	}
	select {
	case sub.ackSig <- struct{}{}:
	default:
	}
}

// waitAck reports false only if expired closes before the subscriber acked
// epoch; a closed connection or a closing server count as done.
func (sub *subscriber) waitAck(epoch uint64, expired, closing <-chan struct{}) bool {
	for sub.acked.Load() < epoch {
		select {
		case <-sub.ackSig:
		case <-sub.conn.done:
			return true
		case <-closing:
			return true
		case <-expired:
			return sub.acked.Load() >= epoch || sub.conn.isClosed()
		}
	}
	return true
}
