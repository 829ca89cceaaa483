package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/xlgo/xlgo/dialect"
	"github.com/xlgo/xlgo/pgerr"
)

// Startup packet codes (PostgreSQL's pqcomm.h).
const (
	cancelRequestCode   = 1234<<16 | 5678
	sslRequestCode      = 1234<<16 | 5679
	gssEncRequestCode   = 1234<<16 | 5680
	maxStartupPacketLen = 10000 // MAX_STARTUP_PACKET_LENGTH
	cancelPacketLen     = 16    // length word, code, process id, secret key
)

const (
	// flushThreshold is how many result bytes are buffered before they are
	// written, so that large results stream instead of piling up.
	flushThreshold = 64 << 10
	// lingerTimeout bounds how long a connection closed after a protocol
	// error keeps reading, so that the client gets the error rather than a reset.
	lingerTimeout = 2 * time.Second
	lingerBytes   = 1 << 20
)

const errExtendedNotSupportedYet = "extended query protocol is not supported yet"

// clientConn is one client connection; serve runs it on its own goroutine.
type clientConn struct {
	srv *Server
	nc  net.Conn     // the connection, TLS once negotiated
	raw net.Conn     // the accepted connection; abort uses it from another goroutine
	log *slog.Logger // used by this connection's goroutine only

	live    *liveSettings // the server's settings when the client came
	local   bool          // a Unix-domain socket
	tlsOn   bool          // TLS was negotiated
	tooMany bool          // came past MaxConnections: refused after its startup packet

	// ctx is cancelled when the client goes, a write fails or the server closes.
	ctx    context.Context
	cancel context.CancelFunc

	// The Backend reads from in: the connection, and what a watcher read
	// ahead while a long statement ran (clientread.go).
	be         *pgproto3.Backend
	in         *clientReader
	watch      watchState
	readFailed atomic.Bool // the client side of the connection failed or ended
	// between is 1 while the connection waits for a message outside any
	// transaction, 2 once Drain has ended it there.
	between atomic.Int32
	aborted atomic.Bool // the server is closing

	pending  int   // bytes sent to be since the last flush
	writeErr error // first failed flush; the connection is unusable after it

	pid    uint32
	secret [4]byte

	// mu orders Cancel (from another connection's goroutine) against Close.
	mu         sync.Mutex
	sess       Session
	sessClosed bool

	// skipTillSync is set after an error in an extended-protocol message:
	// everything up to the next Sync is ignored.
	skipTillSync bool

	// lost is set when a message read inside a statement (COPY data) broke
	// the framing: the bytes that follow cannot be trusted to start a
	// message, so the connection ends with this error once the statement has.
	lost *pgconn.PgError
}

func newClientConn(srv *Server, nc net.Conn) *clientConn {
	ctx, cancel := context.WithCancel(srv.baseCtx)
	c := &clientConn{
		srv:    srv,
		nc:     nc,
		raw:    nc,
		local:  nc.LocalAddr() != nil && nc.LocalAddr().Network() == "unix",
		log:    srv.log.With("remote", remoteString(nc)),
		live:   srv.live.Load(),
		ctx:    ctx,
		cancel: cancel,
	}
	c.in = &clientReader{c: c}
	c.be = pgproto3.NewBackend(c.in, countingWriter{nc, srv.opts.Observer})
	c.setMaxBody(max(srv.opts.MaxMessageSize-4, 1))
	return c
}

func remoteString(nc net.Conn) string {
	if a := nc.RemoteAddr(); a != nil && a.String() != "" {
		return a.String()
	}
	return "[local]"
}

// serve runs the connection to its end. A panic is logged, reported to the
// client as XX000 and ends only this connection.
func (c *clientConn) serve() {
	defer c.srv.forget(c)
	defer c.closeConn()
	defer c.closeSession()
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("panic in connection", "panic", r, "stack", string(debug.Stack()))
			c.sendFatal(&pgconn.PgError{Code: pgerr.InternalError, Message: fmt.Sprintf("internal error: %v", r)})
		}
	}()
	if !c.startup() {
		return
	}
	c.messageLoop()
	if c.aborted.Load() && c.writeErr == nil {
		// Best effort, as PostgreSQL does on a fast shutdown.
		c.nc.SetWriteDeadline(time.Now().Add(time.Second))
		c.sendFatal(errAdminShutdown)
	}
}

// errAdminShutdown is what a client whose connection the server ends gets,
// as PostgreSQL's shutdown and pg_terminate_backend say it.
var errAdminShutdown = &pgconn.PgError{Code: pgerr.AdminShutdown, Message: "terminating connection due to administrator command"}

// abort is called by Server.Close and Startup.Terminate: it wakes up every read and write of the
// connection and cancels its context; the goroutine then ends.
func (c *clientConn) abort() {
	c.aborted.Store(true)
	c.raw.SetDeadline(time.Now())
	c.cancel()
}

func (c *clientConn) closeConn() {
	c.cancel()
	c.nc.Close()
	c.stopWatcher()
}

// closeSession closes the session once; later Cancel calls do nothing.
func (c *clientConn) closeSession() {
	c.mu.Lock()
	sess := c.sess
	already := c.sessClosed
	c.sessClosed = true
	c.mu.Unlock()
	if sess == nil || already {
		return
	}
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("panic in session close", "panic", r, "stack", string(debug.Stack()))
		}
	}()
	sess.Close()
}

// cancelSession handles a CancelRequest aimed at this connection.
func (c *clientConn) cancelSession() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess == nil || c.sessClosed {
		return false
	}
	defer func() {
		if r := recover(); r != nil {
			c.srv.log.Error("panic in session cancel", "pid", c.pid, "panic", r, "stack", string(debug.Stack()))
		}
	}()
	c.sess.Cancel()
	return true
}

// ---- startup ----

// startup runs the startup exchange; it reports whether a session is ready.
func (c *clientConn) startup() bool {
	c.nc.SetReadDeadline(time.Now().Add(c.live.startupTimeout))
	sslDone, gssDone := false, false
	for {
		body, err := c.readStartupPacket()
		if err != nil {
			var pgErr *pgconn.PgError
			switch {
			case errors.As(err, &pgErr):
				c.rejectStartup(pgErr)
			case c.aborted.Load():
			case isTimeout(err):
				c.log.Info("startup packet not received in time", "timeout", c.live.startupTimeout)
			default:
				c.log.Debug("connection ended before startup", "err", err)
			}
			return false
		}
		code := binary.BigEndian.Uint32(body)
		switch {
		case code == cancelRequestCode:
			c.handleCancelRequest(body)
			return false
		case code == sslRequestCode && !sslDone:
			if err := c.negotiateTLS(); err != nil {
				return false
			}
			sslDone = true
			continue
		case code == gssEncRequestCode && !gssDone:
			if _, err := c.nc.Write([]byte{'N'}); err != nil {
				return false
			}
			gssDone = true
			continue
		}
		return c.startSession(code, body[4:])
	}
}

// rejectStartup ends a connection whose startup packet is unacceptable.
func (c *clientConn) rejectStartup(pgErr *pgconn.PgError) {
	c.log.Info("startup refused", "code", pgErr.Code, "err", pgErr.Message)
	c.sendFatal(pgErr)
	c.lingerClose()
}

// readStartupPacket reads one length-prefixed startup packet straight from
// the socket: nothing beyond it is read, which a TLS handshake after an
// SSLRequest needs. A *pgconn.PgError means the packet is malformed.
func (c *clientConn) readStartupPacket() ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(c.nc, hdr[:]); err != nil {
		return nil, err
	}
	n := int64(int32(binary.BigEndian.Uint32(hdr[:]))) - 4
	if n < 4 || n > maxStartupPacketLen {
		return nil, protocolError("invalid length of startup packet")
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(c.nc, body); err != nil {
		return nil, fmt.Errorf("incomplete startup packet: %w", err)
	}
	return body, nil
}

// negotiateTLS answers an SSLRequest: 'N' when the server has no
// certificate (or on a Unix socket, as PostgreSQL does), else 'S' and the TLS
// handshake, after which the connection speaks through TLS.
func (c *clientConn) negotiateTLS() error {
	t := c.live.tls
	if t == nil || c.local {
		_, err := c.nc.Write([]byte{'N'})
		return err
	}
	if _, err := c.nc.Write([]byte{'S'}); err != nil {
		return err
	}
	tc := tls.Server(c.nc, t.Config)
	if err := tc.HandshakeContext(c.ctx); err != nil {
		c.log.Info("could not accept SSL connection", "err", err)
		return err
	}
	c.nc = tc
	c.tlsOn = true
	c.be = pgproto3.NewBackend(c.in, countingWriter{tc, c.srv.opts.Observer})
	c.setMaxBody(max(c.srv.opts.MaxMessageSize-4, 1))
	return nil
}

func (c *clientConn) handleCancelRequest(body []byte) {
	if len(body) != cancelPacketLen-4 {
		c.log.Info("bad cancel request", "err", "invalid length of startup packet")
		return
	}
	var req pgproto3.CancelRequest
	if err := req.Decode(body); err != nil {
		c.log.Info("bad cancel request", "err", err)
		return
	}
	if c.srv.cancel(req.ProcessID, req.SecretKey) {
		c.log.Debug("cancel request delivered", "target_pid", req.ProcessID)
	} else {
		c.log.Info("cancel request matched no connection", "target_pid", req.ProcessID)
	}
}

// startSession handles a StartupMessage with protocol version code and the
// parameter bytes that follow it.
func (c *clientConn) startSession(code uint32, paramBytes []byte) bool {
	major, minor := code>>16, code&0xffff
	if major != 3 {
		c.rejectStartup(&pgconn.PgError{
			Code:    pgerr.FeatureNotSupported,
			Message: fmt.Sprintf("unsupported frontend protocol %d.%d: server supports 3.0 to 3.0", major, minor),
		})
		return false
	}
	raw, err := parseStartupParams(paramBytes)
	if err != nil {
		c.rejectStartup(err.(*pgconn.PgError))
		return false
	}
	if c.tooMany {
		c.rejectStartup(errTooMany)
		return false
	}
	params := make(map[string]string, len(raw))
	var unrecognized []string
	for k, v := range raw {
		if strings.HasPrefix(k, "_pq_.") {
			unrecognized = append(unrecognized, k)
			continue
		}
		params[k] = v
	}
	st := Startup{User: params["user"], Database: params["database"], Params: params, RemoteAddr: c.nc.RemoteAddr(), Terminate: c.abort}
	if st.User == "" {
		c.rejectStartup(&pgconn.PgError{Code: pgerr.InvalidAuthorizationSpecification, Message: "no PostgreSQL user name specified in startup packet"})
		return false
	}
	if st.Database == "" {
		st.Database = st.User
	}
	if minor > 0 || len(unrecognized) > 0 {
		// Protocol 3.0 with no protocol options is what we speak, like PostgreSQL 15.
		c.be.Send(&pgproto3.NegotiateProtocolVersion{NewestMinorProtocol: 0, UnrecognizedOptions: unrecognized})
	}
	if !c.authenticate(st) {
		return false
	}
	c.nc.SetReadDeadline(time.Time{})

	sess, status, err := c.srv.engine.NewSession(c.ctx, st)
	if err != nil {
		c.log.Info("session refused", "user", st.User, "database", st.Database, "err", err)
		c.sendFatal(toPgError(err))
		return false
	}
	c.srv.register(c)
	c.mu.Lock()
	c.sess = sess
	c.mu.Unlock()
	c.log = c.srv.log.With("remote", remoteString(c.nc), "pid", c.pid)
	if id, ok := sess.(interface{ ID() uint64 }); ok {
		c.log = c.log.With("session", id.ID())
	}
	c.log.Debug("session started", "user", st.User, "database", st.Database)

	c.be.Send(&pgproto3.AuthenticationOk{})
	for _, p := range status {
		c.be.Send(&pgproto3.ParameterStatus{Name: p.Name, Value: p.Value})
	}
	c.be.Send(&pgproto3.BackendKeyData{ProcessID: c.pid, SecretKey: c.secret[:]})
	c.be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
	return c.flush() == nil
}

// parseStartupParams reads the name/value pairs of a StartupMessage the way
// PostgreSQL does (an empty list is valid; the packet must end with the
// terminating zero byte).
func parseStartupParams(b []byte) (map[string]string, error) {
	n := len(b)
	buf := make([]byte, n+1) // a trailing zero, so every string ends inside buf
	copy(buf, b)
	params := make(map[string]string)
	off := 0
	for off < n {
		if buf[off] == 0 {
			break
		}
		nameEnd := off + bytes.IndexByte(buf[off:], 0)
		valOff := nameEnd + 1
		if valOff >= n {
			break
		}
		valEnd := valOff + bytes.IndexByte(buf[valOff:], 0)
		params[string(buf[off:nameEnd])] = string(buf[valOff:valEnd])
		off = valEnd + 1
	}
	if off != n-1 {
		return nil, protocolError("invalid startup packet layout: expected terminator as last byte")
	}
	return params, nil
}

// randomKey returns a process id and secret key for BackendKeyData.
func randomKey() (uint32, [4]byte) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	var secret [4]byte
	copy(secret[:], b[4:])
	// A positive 31-bit id, as a real process id would be.
	return binary.BigEndian.Uint32(b[:4]) & 0x7fffffff, secret
}

// ---- messages ----

func (c *clientConn) messageLoop() {
	for {
		var timer *time.Timer
		if il, ok := c.sess.(IdleLimiter); ok {
			if st := c.sess.TxStatus(); st != 'I' {
				if d := il.IdleInTransactionTimeout(); d > 0 {
					timer = time.AfterFunc(d, c.idleTimedOut)
				}
			}
		}
		idle := c.sess.TxStatus() == 'I'
		if idle {
			if c.srv.draining.Load() {
				c.terminate()
				return
			}
			c.between.Store(1)
			if c.srv.draining.Load() && c.between.CompareAndSwap(1, 0) {
				c.terminate()
				return
			}
		}
		msg, err := c.be.Receive()
		if idle && !c.between.CompareAndSwap(1, 0) {
			// A shutdown ended the connection before the message was read:
			// it does not run.
			return
		}
		if timer != nil && !timer.Stop() && err == nil {
			// The timeout fired as the message came: the connection is closing.
			return
		}
		if err != nil {
			c.receiveFailed(err)
			return
		}
		c.working()
		ok := c.dispatch(msg)
		c.idle()
		if !ok {
			return
		}
	}
}

// idleTimedOut ends a connection idle in a transaction for too long, as
// PostgreSQL does (FATAL 25P03); the session then rolls back.
func (c *clientConn) idleTimedOut() {
	msg := errorResponse(&pgconn.PgError{Code: pgerr.IdleInTransactionSessionTimeout, Message: "terminating connection due to idle-in-transaction timeout"}, "FATAL")
	if b, err := msg.Encode(nil); err == nil {
		c.nc.SetWriteDeadline(time.Now().Add(time.Second))
		c.nc.Write(b)
	}
	c.log.Info("idle-in-transaction timeout")
	c.nc.Close()
}

// terminate ends the connection as PostgreSQL's shutdown does (FATAL 57P01)
// while it waits between transactions. It may run on another goroutine
// than the connection's (Drain), which has then given it up.
func (c *clientConn) terminate() {
	msg := errorResponse(errAdminShutdown, "FATAL")
	c.srv.opts.Observer.ClientError(pgerr.AdminShutdown, true)
	if b, err := msg.Encode(nil); err == nil {
		c.nc.SetWriteDeadline(time.Now().Add(time.Second))
		c.nc.Write(b)
	}
	c.nc.Close()
}

// receiveFailed handles an error from Receive: either the connection ended
// or the client broke the protocol.
func (c *clientConn) receiveFailed(err error) {
	if c.readFailed.Load() || c.ctx.Err() != nil || errors.Is(err, io.ErrClosedPipe) {
		if c.txStatus() != 'I' && !c.aborted.Load() {
			c.log.Info("unexpected EOF on client connection with an open transaction")
		} else {
			c.log.Debug("client disconnected", "err", err)
		}
		return
	}
	pgErr := framingError(err)
	c.log.Info("protocol violation", "err", pgErr.Message, "detail", pgErr.Detail)
	c.sendFatal(pgErr)
	c.lingerClose()
}

// framingError is the error for a message the Backend could not read
// although the client is still there: a bad length, an unknown type or a
// body that does not decode. The stream cannot be read further.
func framingError(err error) *pgconn.PgError {
	pgErr := protocolError("invalid message format")
	var tooBig *pgproto3.ExceededMaxBodyLenErr
	switch {
	case errors.As(err, &tooBig):
		pgErr = protocolError("invalid message length")
		pgErr.Detail = fmt.Sprintf("The message is %d bytes long; at most %d are accepted.",
			int64(tooBig.ActualBodyLen)+4, int64(tooBig.MaxExpectedBodyLen)+4)
	case strings.HasPrefix(err.Error(), "invalid message length"):
		pgErr = protocolError("invalid message length")
	default:
		if t, ok := unknownMessageType(err); ok {
			pgErr = protocolError(fmt.Sprintf("invalid frontend message type %d", t))
		} else {
			pgErr.Detail = err.Error()
		}
	}
	return pgErr
}

// endIfLost ends a connection whose framing a statement's reads broke; it
// reports whether it did.
func (c *clientConn) endIfLost() bool {
	if c.lost == nil {
		return false
	}
	c.log.Info("protocol violation", "err", c.lost.Message, "detail", c.lost.Detail)
	c.sendFatal(c.lost)
	c.lingerClose()
	return true
}

// unknownMessageType recovers the type byte from the error the Backend
// returns for a message type it does not know.
func unknownMessageType(err error) (byte, bool) {
	rest, ok := strings.CutPrefix(err.Error(), "unknown message type: ")
	if !ok {
		return 0, false
	}
	r := []rune(rest)
	if len(r) != 1 || r[0] > 0xff {
		return 0, false
	}
	return byte(r[0]), true
}

// dispatch handles one message; it reports whether the connection goes on.
func (c *clientConn) dispatch(msg pgproto3.FrontendMessage) bool {
	if c.skipTillSync {
		switch msg.(type) {
		case *pgproto3.Sync:
			c.skipTillSync = false
			return c.sync()
		case *pgproto3.Terminate:
			return false
		default:
			return true
		}
	}
	switch m := msg.(type) {
	case *pgproto3.Query:
		return c.simpleQuery(m.String)
	case *pgproto3.Terminate:
		return false
	case *pgproto3.Sync:
		return c.sync()
	case *pgproto3.Parse, *pgproto3.Bind, *pgproto3.Describe, *pgproto3.Execute,
		*pgproto3.Close, *pgproto3.Flush:
		return c.extendedQuery(msg)
	case *pgproto3.CopyData, *pgproto3.CopyDone, *pgproto3.CopyFail:
		// Outside COPY these are ignored, as PostgreSQL does: they are what
		// is left of a COPY that failed.
		return true
	case *pgproto3.FunctionCall:
		c.sendError(&pgconn.PgError{Code: pgerr.FeatureNotSupported, Message: "fastpath function calls are not supported"})
		return c.readyForQuery()
	default:
		c.sendFatal(protocolError(fmt.Sprintf("invalid frontend message type %d", messageType(msg))))
		c.lingerClose()
		return false
	}
}

// messageType is the type byte of a frontend message.
func messageType(msg pgproto3.FrontendMessage) byte {
	switch msg.(type) {
	case *pgproto3.PasswordMessage, *pgproto3.SASLInitialResponse, *pgproto3.SASLResponse, *pgproto3.GSSResponse:
		return 'p'
	case *pgproto3.Query:
		return 'Q'
	case *pgproto3.Parse:
		return 'P'
	case *pgproto3.Bind:
		return 'B'
	case *pgproto3.Describe:
		return 'D'
	case *pgproto3.Execute:
		return 'E'
	case *pgproto3.Close:
		return 'C'
	case *pgproto3.Sync:
		return 'S'
	case *pgproto3.Flush:
		return 'H'
	case *pgproto3.Terminate:
		return 'X'
	case *pgproto3.FunctionCall:
		return 'F'
	case *pgproto3.CopyData:
		return 'd'
	case *pgproto3.CopyDone:
		return 'c'
	case *pgproto3.CopyFail:
		return 'f'
	}
	return 0
}

// extendedQuery handles one message of the extended query protocol. After
// an error, messages are skipped until Sync, as PostgreSQL does.
func (c *clientConn) extendedQuery(msg pgproto3.FrontendMessage) bool {
	es, ok := c.sess.(ExtendedSession)
	if !ok {
		c.sendError(&pgconn.PgError{Code: pgerr.FeatureNotSupported, Message: errExtendedNotSupportedYet})
		c.skipTillSync = true
		return c.flush() == nil
	}
	var err error
	switch m := msg.(type) {
	case *pgproto3.Parse:
		if err = es.Parse(c.ctx, m.Name, m.Query, m.ParameterOIDs); err == nil {
			err = c.send(&pgproto3.ParseComplete{}, 5)
		}
	case *pgproto3.Bind:
		if err = checkTextParams(m); err != nil {
			break
		}
		if err = es.Bind(c.ctx, m.DestinationPortal, m.PreparedStatement, m.ParameterFormatCodes, m.Parameters, m.ResultFormatCodes); err == nil {
			err = c.send(&pgproto3.BindComplete{}, 5)
		}
	case *pgproto3.Describe:
		if m.ObjectType == 'S' {
			var oids []uint32
			var fields []pgproto3.FieldDescription
			if oids, fields, err = es.DescribeStatement(c.ctx, m.Name); err == nil {
				err = c.send(&pgproto3.ParameterDescription{ParameterOIDs: oids}, 7+4*len(oids))
				if err == nil {
					err = c.sendRowDescription(fields)
				}
			}
		} else {
			var fields []pgproto3.FieldDescription
			if fields, err = es.DescribePortal(c.ctx, m.Name); err == nil {
				err = c.sendRowDescription(fields)
			}
		}
	case *pgproto3.Execute:
		var suspended bool
		if suspended, err = es.Execute(c.ctx, m.Portal, m.MaxRows, resultWriter{c}); err == nil && suspended {
			err = c.send(&pgproto3.PortalSuspended{}, 5)
		}
	case *pgproto3.Close:
		if err = es.CloseObject(c.ctx, m.ObjectType, m.Name); err == nil {
			err = c.send(&pgproto3.CloseComplete{}, 5)
		}
	case *pgproto3.Flush:
		return c.flush() == nil
	}
	if c.writeErr != nil || c.ctx.Err() != nil || c.endIfLost() {
		return false
	}
	if err != nil {
		pgErr := toPgError(err)
		if pgErr.Severity == "FATAL" || pgErr.Severity == "PANIC" {
			c.sendFatal(pgErr)
			return false
		}
		c.sendError(pgErr)
		c.skipTillSync = true
	}
	return true
}

// checkTextParams refuses a Bind whose text-format parameters are not valid
// UTF-8, as PostgreSQL's Bind does (22021).
func checkTextParams(m *pgproto3.Bind) error {
	for i, p := range m.Parameters {
		text := len(m.ParameterFormatCodes) == 0 ||
			len(m.ParameterFormatCodes) == 1 && m.ParameterFormatCodes[0] == 0 ||
			len(m.ParameterFormatCodes) == len(m.Parameters) && m.ParameterFormatCodes[i] == 0
		if p == nil || !text {
			continue
		}
		if err := dialect.CheckEncoding(string(p)); err != nil {
			return err
		}
	}
	return nil
}

// sendRowDescription sends a RowDescription, or NoData for no columns.
func (c *clientConn) sendRowDescription(fields []pgproto3.FieldDescription) error {
	if fields == nil {
		return c.send(&pgproto3.NoData{}, 5)
	}
	return resultWriter{c}.RowDescription(fields)
}

// sync ends an extended-protocol batch.
func (c *clientConn) sync() bool {
	if es, ok := c.sess.(ExtendedSession); ok {
		if err := es.Sync(c.ctx); err != nil {
			if c.writeErr != nil || c.ctx.Err() != nil {
				return false
			}
			c.sendError(toPgError(err))
		}
	}
	return c.readyForQuery()
}

// simpleQuery runs a Query message.
func (c *clientConn) simpleQuery(sql string) bool {
	err := c.sess.SimpleQuery(c.ctx, sql, resultWriter{c})
	if c.writeErr != nil || c.ctx.Err() != nil || c.endIfLost() {
		return false
	}
	if err != nil {
		pgErr := toPgError(err)
		if pgErr.Severity == "FATAL" || pgErr.Severity == "PANIC" {
			c.sendFatal(pgErr)
			return false
		}
		c.sendError(pgErr)
	}
	return c.readyForQuery()
}

func (c *clientConn) txStatus() byte {
	c.mu.Lock()
	sess := c.sess
	c.mu.Unlock()
	if sess == nil {
		return 'I'
	}
	return sess.TxStatus()
}

func (c *clientConn) readyForQuery() bool {
	c.be.Send(&pgproto3.ReadyForQuery{TxStatus: c.sess.TxStatus()})
	return c.flush() == nil
}

// ---- sending ----

// send queues msg, which encodes to about size bytes, and writes the queue
// out once it is large.
func (c *clientConn) send(msg pgproto3.BackendMessage, size int) error {
	if c.writeErr != nil {
		return c.writeErr
	}
	if err := c.ctx.Err(); err != nil {
		return err
	}
	c.be.Send(msg)
	c.pending += size
	if c.pending >= flushThreshold {
		return c.flush()
	}
	return nil
}

func (c *clientConn) flush() error {
	if c.writeErr != nil {
		return c.writeErr
	}
	c.pending = 0
	if err := c.be.Flush(); err != nil {
		c.writeErr = err
		c.cancel()
		c.log.Debug("write to client failed", "err", err)
		return err
	}
	return nil
}

// sendError sends a non-fatal ErrorResponse (flushed with the next ReadyForQuery).
func (c *clientConn) sendError(pgErr *pgconn.PgError) {
	if c.writeErr != nil {
		return
	}
	c.srv.opts.Observer.ClientError(pgErr.Code, false)
	c.be.Send(errorResponse(pgErr, "ERROR"))
}

// sendFatal sends a FATAL ErrorResponse and flushes it; the caller closes.
func (c *clientConn) sendFatal(pgErr *pgconn.PgError) {
	if c.writeErr != nil {
		return
	}
	c.srv.opts.Observer.ClientError(pgErr.Code, true)
	c.be.Send(errorResponse(pgErr, "FATAL"))
	c.flush()
}

// lingerClose half-closes the connection and reads what the client still
// sends for a while, so that the error just sent is not lost to a reset.
func (c *clientConn) lingerClose() {
	if cw, ok := c.nc.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	if c.aborted.Load() {
		return
	}
	c.nc.SetReadDeadline(time.Now().Add(lingerTimeout))
	if c.aborted.Load() {
		// Server.Close raced with the line above: do not wait.
		c.nc.SetReadDeadline(time.Now())
	}
	c.in.discard(lingerBytes)
}

// resultWriter is the ResultWriter a Session writes one message's results to.
type resultWriter struct{ c *clientConn }

func (w resultWriter) RowDescription(fields []pgproto3.FieldDescription) error {
	size := 7
	for _, f := range fields {
		size += len(f.Name) + 19
	}
	return w.c.send(&pgproto3.RowDescription{Fields: fields}, size)
}

func (w resultWriter) DataRow(values [][]byte) error {
	size := 7 + 4*len(values)
	for _, v := range values {
		size += len(v)
	}
	return w.c.send(&pgproto3.DataRow{Values: values}, size)
}

func (w resultWriter) CommandComplete(tag string) error {
	return w.c.send(&pgproto3.CommandComplete{CommandTag: []byte(tag)}, len(tag)+6)
}

func (w resultWriter) EmptyQuery() error {
	return w.c.send(&pgproto3.EmptyQueryResponse{}, 5)
}

func (w resultWriter) Notice(n *pgproto3.NoticeResponse) error {
	return w.c.send(n, 5+len(n.Message)+len(n.Detail)+len(n.Hint)+len(n.Where)+32)
}

func (w resultWriter) CopyInResponse(format byte, columnFormats []uint16) error {
	if err := w.c.send(&pgproto3.CopyInResponse{OverallFormat: format, ColumnFormatCodes: columnFormats}, 7+2*len(columnFormats)); err != nil {
		return err
	}
	return w.c.flush()
}

func (w resultWriter) ReceiveCopyData() ([]byte, error) {
	// The statement reads the client itself now: no watcher may read ahead.
	w.c.watch.since.Store(0)
	w.c.stopWatcher()
	for {
		msg, err := w.c.be.Receive()
		if err != nil {
			if w.c.ctx.Err() != nil {
				return nil, err
			}
			if w.c.readFailed.Load() {
				// The client went away: nothing more is sent to it, and
				// the statement ends as PostgreSQL's does.
				w.c.cancel()
				return nil, &pgconn.PgError{Severity: "ERROR", Code: pgerr.ConnectionFailure,
					Message: "unexpected EOF on client connection with an open transaction"}
			}
			w.c.lost = framingError(err)
			return nil, w.c.lost
		}
		switch m := msg.(type) {
		case *pgproto3.CopyData:
			return m.Data, nil
		case *pgproto3.CopyDone:
			return nil, io.EOF
		case *pgproto3.CopyFail:
			return nil, &pgconn.PgError{Severity: "ERROR", Code: pgerr.QueryCanceled, Message: "COPY from stdin failed: " + m.Message}
		case *pgproto3.Flush, *pgproto3.Sync:
			// Ignored during COPY, as PostgreSQL does.
		default:
			return nil, &pgconn.PgError{Severity: "ERROR", Code: pgerr.ProtocolViolation,
				Message: fmt.Sprintf("unexpected message type 0x%02X during COPY from stdin", messageType(msg))}
		}
	}
}

func (w resultWriter) CopyOutResponse(format byte, columnFormats []uint16) error {
	return w.c.send(&pgproto3.CopyOutResponse{OverallFormat: format, ColumnFormatCodes: columnFormats}, 7+2*len(columnFormats))
}

func (w resultWriter) CopyData(data []byte) error {
	return w.c.send(&pgproto3.CopyData{Data: data}, 5+len(data))
}

func (w resultWriter) CopyDone() error {
	return w.c.send(&pgproto3.CopyDone{}, 5)
}

func (w resultWriter) ParameterStatus(name, value string) error {
	return w.c.send(&pgproto3.ParameterStatus{Name: name, Value: value}, 7+len(name)+len(value))
}

// ---- errors ----

func protocolError(msg string) *pgconn.PgError {
	return &pgconn.PgError{Code: pgerr.ProtocolViolation, Message: msg}
}

// toPgError returns the *pgconn.PgError in err's chain, or err's text as XX000.
func toPgError(err error) *pgconn.PgError {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr
	}
	return &pgconn.PgError{Code: pgerr.InternalError, Message: err.Error()}
}

// errorResponse converts pgErr with every field. severity is used when
// pgErr has none, and always when it is FATAL (the connection then ends).
func errorResponse(pgErr *pgconn.PgError, severity string) *pgproto3.ErrorResponse {
	sev, sevU := pgErr.Severity, pgErr.SeverityUnlocalized
	if sev == "" || (severity == "FATAL" && sev != "PANIC") {
		sev, sevU = severity, severity
	}
	if sevU == "" {
		sevU = sev
	}
	code := pgErr.Code
	if code == "" {
		code = pgerr.InternalError
	}
	return &pgproto3.ErrorResponse{
		Severity:            sev,
		SeverityUnlocalized: sevU,
		Code:                code,
		Message:             pgErr.Message,
		Detail:              pgErr.Detail,
		Hint:                pgErr.Hint,
		Position:            pgErr.Position,
		InternalPosition:    pgErr.InternalPosition,
		InternalQuery:       pgErr.InternalQuery,
		Where:               pgErr.Where,
		SchemaName:          pgErr.SchemaName,
		TableName:           pgErr.TableName,
		ColumnName:          pgErr.ColumnName,
		DataTypeName:        pgErr.DataTypeName,
		ConstraintName:      pgErr.ConstraintName,
		File:                pgErr.File,
		Line:                pgErr.Line,
		Routine:             pgErr.Routine,
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
