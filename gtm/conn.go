package gtm

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
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

// handle runs one request and writes its response.
func (c *serverConn) handle(f gtmproto.Frame) {
	h, ok := handlers[f.Type]
	if !ok {
		c.send(gtmproto.Frame{ID: f.ID, Type: gtmproto.MsgError,
			Body: gtmproto.EncodeError(gtmproto.CodeUnknownRequest, fmt.Sprintf("unknown request type %s", f.Type))})
		return
	}
	body, err := h(c, gtmproto.NewDecoder(f.Body))
	if err != nil {
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
		if err := d.Finish(); err != nil {
			return nil, err
		}
		e, err := c.s.BumpCatalogEpoch()
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
