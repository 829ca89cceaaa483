package server

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/xlgo/xlgo/auth"
	"github.com/xlgo/xlgo/pgerr"
	"github.com/xlgo/xlgo/rawconn"
)

// Defaults for Options fields left zero.
const (
	// DefaultMaxMessageSize is PostgreSQL's limit for one protocol message (1 GiB).
	DefaultMaxMessageSize = 1 << 30
	// DefaultStartupTimeout is how long a new connection may take to send its
	// startup packet (PostgreSQL's authentication_timeout).
	DefaultStartupTimeout = 60 * time.Second
	// DefaultMaxConnections is how many clients are served at once.
	DefaultMaxConnections = 10000
)

// Options configures a Server.
type Options struct {
	// ListenAddrs are the TCP host names or addresses to listen on; "*" means
	// all interfaces; empty means no TCP listener.
	ListenAddrs []string
	// Port is the TCP port and the number in the Unix socket's name. With 0 a
	// free TCP port is chosen and the socket is named after it.
	Port int
	// UnixSocketDir, if not empty, is where the socket DIR/.s.PGSQL.<port> is created.
	UnixSocketDir string
	// MaxMessageSize is the largest protocol message accepted, length word
	// included; 0 means DefaultMaxMessageSize.
	MaxMessageSize int
	// StartupTimeout bounds the startup packet exchange; 0 means DefaultStartupTimeout.
	StartupTimeout time.Duration
	// MaxConnections bounds the client connections served at once
	// (pgbouncer's max_client_conn, PostgreSQL's max_connections); 0 means
	// DefaultMaxConnections. One more gets FATAL 53300 "sorry, too many
	// clients already" after its startup packet, as PostgreSQL answers; past
	// as many again waiting for theirs, a connection gets it at once.
	MaxConnections int
	// Logger receives connection events; nil means slog.Default().
	Logger *slog.Logger
	// HBA is the rule list clients are checked against; nil means
	// auth.DefaultHBA() (trust on the Unix socket and loopback only).
	HBA *auth.HBA
	// Passwords gives the stored passwords for md5, scram-sha-256 and
	// password rules; nil makes those rules refuse every client.
	Passwords PasswordSource
	// TLS, when set, is offered to clients that send an SSLRequest.
	TLS *auth.ServerTLS
	// Observer, when set, is told of connections, bytes and errors.
	Observer Observer
}

// Server accepts PostgreSQL protocol connections and hands them to an Engine.
type Server struct {
	engine Engine
	opts   Options
	log    *slog.Logger
	live   atomic.Pointer[liveSettings] // what a reload changes
	// draining: a graceful shutdown runs; connections end once outside a
	// transaction (Drain).
	draining atomic.Bool
	// mockKey derives the salt of the mock SCRAM exchange run for unknown users.
	mockKey [32]byte

	// baseCtx is the parent of every connection's context; cancelled by Close.
	baseCtx    context.Context
	baseCancel context.CancelFunc

	mu         sync.Mutex
	tcp        []net.Listener
	tcpAddr    net.Addr // first TCP address, kept after Close
	unix       net.Listener
	socketPath string
	listening  bool
	closed     bool
	conns      map[*clientConn]struct{}
	byPID      map[uint32]*clientConn // connections that sent BackendKeyData
	admitted   int                    // connections within MaxConnections
	refusing   int                    // connections past it, reading their startup packet to refuse it

	connWG sync.WaitGroup // connection goroutines
}

// NewServer returns a Server for engine; call Listen and Serve to run it.
func NewServer(engine Engine, opts Options) *Server {
	if opts.MaxMessageSize <= 0 {
		opts.MaxMessageSize = DefaultMaxMessageSize
	}
	if opts.StartupTimeout <= 0 {
		opts.StartupTimeout = DefaultStartupTimeout
	}
	if opts.Observer == nil {
		opts.Observer = nopObserver{}
	}
	if opts.MaxConnections <= 0 {
		opts.MaxConnections = DefaultMaxConnections
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		engine:     engine,
		opts:       opts,
		log:        log,
		baseCtx:    ctx,
		baseCancel: cancel,
		conns:      make(map[*clientConn]struct{}),
		byPID:      make(map[uint32]*clientConn),
	}
	s.Reload(Reloadable{HBA: opts.HBA, TLS: opts.TLS, StartupTimeout: opts.StartupTimeout, MaxConnections: opts.MaxConnections})
	if _, err := rand.Read(s.mockKey[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	return s
}

// DefaultSocketDir is the local libpq's default Unix socket directory:
// /var/run/postgresql when it exists (Debian), else /tmp.
func DefaultSocketDir() string {
	if fi, err := os.Stat("/var/run/postgresql"); err == nil && fi.IsDir() {
		return "/var/run/postgresql"
	}
	return "/tmp"
}

// SocketPath is the name of the Unix socket PostgreSQL clients look for in dir for port.
func SocketPath(dir string, port int) string {
	return filepath.Join(dir, ".s.PGSQL."+strconv.Itoa(port))
}

// Listen binds every TCP address and the Unix socket. Nothing stays bound if
// any of them fails.
func (s *Server) Listen() (err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("server is closed")
	}
	if s.listening {
		return errors.New("server is already listening")
	}
	defer func() {
		if err != nil {
			s.closeListenersLocked()
		}
	}()

	port := s.opts.Port
	for _, host := range s.opts.ListenAddrs {
		lns, err := s.listenTCP(host, port)
		if err != nil {
			return err
		}
		if port == 0 && len(lns) > 0 {
			// Every further address (and the socket) takes the port chosen first.
			port = lns[0].Addr().(*net.TCPAddr).Port
		}
		s.tcp = append(s.tcp, lns...)
	}
	if s.opts.UnixSocketDir != "" {
		if err := s.listenUnix(s.opts.UnixSocketDir, port); err != nil {
			return err
		}
	}
	if len(s.tcp) > 0 {
		s.tcpAddr = s.tcp[0].Addr()
	}
	if len(s.tcp) == 0 && s.unix == nil {
		return errors.New("no listen address and no Unix socket directory configured")
	}
	s.listening = true
	return nil
}

// listenTCP binds host:port; a host name is bound on each of its addresses,
// as PostgreSQL's listen_addresses does.
func (s *Server) listenTCP(host string, port int) ([]net.Listener, error) {
	var lc net.ListenConfig
	if host == "*" || host == "" {
		ln, err := lc.Listen(context.Background(), "tcp", net.JoinHostPort("", strconv.Itoa(port)))
		if err != nil {
			return nil, fmt.Errorf("listen on all interfaces, port %d: %w", port, err)
		}
		return []net.Listener{ln}, nil
	}
	ips := []string{host}
	if net.ParseIP(host) == nil {
		addrs, err := net.DefaultResolver.LookupHost(context.Background(), host)
		if err != nil {
			return nil, fmt.Errorf("listen on %q: %w", host, err)
		}
		ips = addrs
	}
	var lns []net.Listener
	var firstErr error
	for _, ip := range ips {
		ln, err := lc.Listen(context.Background(), "tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
		if err != nil {
			err = fmt.Errorf("listen on %s port %d: %w", ip, port, err)
			if errors.Is(err, syscall.EADDRINUSE) {
				for _, l := range lns {
					l.Close()
				}
				return nil, err
			}
			// An address family the host lacks (say ::1 without IPv6) is
			// skipped as long as another address of the name is bound.
			s.log.Warn("could not listen", "addr", ip, "port", port, "err", err)
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		lns = append(lns, ln)
		if port == 0 {
			port = ln.Addr().(*net.TCPAddr).Port
		}
	}
	if len(lns) == 0 {
		return nil, firstErr
	}
	return lns, nil
}

// listenUnix creates DIR/.s.PGSQL.<port>, replacing a stale socket file that
// no server answers on and refusing to start when one does.
func (s *Server) listenUnix(dir string, port int) error {
	path := SocketPath(dir, port)
	if _, err := os.Lstat(path); err == nil {
		c, derr := net.DialTimeout("unix", path, time.Second)
		if derr == nil {
			c.Close()
			return fmt.Errorf("listen on Unix socket %s: another server is already running on it", path)
		}
		if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("remove stale Unix socket %s: %w", path, err)
		}
		s.log.Info("removed stale Unix socket", "path", path)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return fmt.Errorf("listen on Unix socket %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o777); err != nil {
		ln.Close()
		return fmt.Errorf("chmod Unix socket %s: %w", path, err)
	}
	s.unix = ln
	s.socketPath = path
	return nil
}

func (s *Server) closeListenersLocked() {
	for _, ln := range s.tcp {
		ln.Close()
	}
	s.tcp = nil
	if s.unix != nil {
		s.unix.Close()
		s.unix = nil
		if err := os.Remove(s.socketPath); err != nil && !os.IsNotExist(err) {
			s.log.Warn("could not remove Unix socket", "path", s.socketPath, "err", err)
		}
	}
}

// Addr is the address of the first TCP listener, or nil before Listen.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tcpAddr
}

// UnixSocketPath is the path of the Unix socket, or "" when there is none.
func (s *Server) UnixSocketPath() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.socketPath
}

// Serve accepts connections until ctx is done or Close is called, then closes
// the server. It calls Listen first if that has not been done.
func (s *Server) Serve(ctx context.Context) error {
	s.mu.Lock()
	listening, closed := s.listening, s.closed
	s.mu.Unlock()
	if closed {
		return errors.New("server is closed")
	}
	if !listening {
		if err := s.Listen(); err != nil {
			return err
		}
	}
	s.mu.Lock()
	lns := append([]net.Listener(nil), s.tcp...)
	if s.unix != nil {
		lns = append(lns, s.unix)
	}
	s.mu.Unlock()

	stop := context.AfterFunc(ctx, func() { s.Close() })
	defer stop()
	go s.watchLongWork(s.baseCtx.Done())

	var wg sync.WaitGroup
	for _, ln := range lns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.acceptLoop(ln)
		}()
	}
	wg.Wait()
	return nil
}

func (s *Server) acceptLoop(ln net.Listener) {
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.isClosed() || errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: wait and try again
			// rather than give up serving.
			if backoff == 0 {
				backoff = 5 * time.Millisecond
			} else if backoff < time.Second {
				backoff *= 2
			}
			s.log.Warn("accept failed", "addr", ln.Addr().String(), "err", err, "retry_in", backoff)
			select {
			case <-time.After(backoff):
			case <-s.baseCtx.Done():
				return
			}
			continue
		}
		backoff = 0
		c := newClientConn(s, rawconn.Wrap(nc))
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			nc.Close()
			return
		}
		switch {
		case s.admitted < c.live.maxConnections:
			s.admitted++
		case s.refusing < c.live.maxConnections:
			s.refusing++
			c.tooMany = true
		default:
			s.mu.Unlock()
			c.cancel()
			go refuseNow(nc)
			continue
		}
		s.conns[c] = struct{}{}
		s.connWG.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.connWG.Done()
			s.opts.Observer.ClientOpened()
			defer s.opts.Observer.ClientClosed()
			c.serve()
		}()
	}
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Close stops accepting, closes every client connection (their sessions are
// closed as their goroutines end), removes the Unix socket and waits for the
// connection goroutines to finish.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.connWG.Wait()
		return nil
	}
	s.closed = true
	s.closeListenersLocked()
	conns := make([]*clientConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()

	s.baseCancel()
	for _, c := range conns {
		c.abort()
	}
	s.connWG.Wait()
	return nil
}

// Drain is a graceful shutdown: the server stops accepting, a client
// waiting between transactions gets FATAL 57P01 at once, and one in a
// transaction when its transaction ends; past ctx, Close ends the rest. It
// returns when every connection has ended.
func (s *Server) Drain(ctx context.Context) {
	s.draining.Store(true)
	s.mu.Lock()
	s.closeListenersLocked()
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		s.connWG.Wait()
		close(done)
	}()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		s.mu.Lock()
		var idle []*clientConn
		for c := range s.conns {
			if c.between.CompareAndSwap(1, 2) {
				idle = append(idle, c)
			}
		}
		s.mu.Unlock()
		for _, c := range idle {
			c.terminate()
		}
		select {
		case <-done:
			s.Close()
			return
		case <-ctx.Done():
			s.log.Warn("shutdown: transactions still running past the bound; closing them", "clients", s.clientCount())
			s.Close()
			return
		case <-tick.C:
		}
	}
}

// clientCount is the number of client connections open.
func (s *Server) clientCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// register gives c a process id and secret key unique among live connections.
func (s *Server) register(c *clientConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		pid, secret := randomKey()
		if _, taken := s.byPID[pid]; taken || pid == 0 {
			continue
		}
		c.pid, c.secret = pid, secret
		s.byPID[pid] = c
		return
	}
}

// errTooMany is PostgreSQL's answer to a client past max_connections.
var errTooMany = &pgconn.PgError{Code: pgerr.TooManyConnections, Message: "sorry, too many clients already"}

// refuseNow answers a connection that came past MaxConnections while as
// many again wait to be refused: the error goes out at once, before the
// client's startup packet, which is read for a moment so that the error is
// not lost to a reset.
func refuseNow(nc net.Conn) {
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(time.Second))
	if b, err := errorResponse(errTooMany, "FATAL").Encode(nil); err == nil {
		nc.Write(b)
	}
	if cw, ok := nc.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	io.CopyN(io.Discard, nc, maxStartupPacketLen)
}

// ConnCount is the number of client connections open now.
func (s *Server) ConnCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// forget removes c from the server's tables.
func (s *Server) forget(c *clientConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.conns[c]; ok {
		if c.tooMany {
			s.refusing--
		} else {
			s.admitted--
		}
	}
	delete(s.conns, c)
	if c.pid != 0 && s.byPID[c.pid] == c {
		delete(s.byPID, c.pid)
	}
}

// cancel handles a CancelRequest: it cancels the session of the live
// connection with that process id and secret key, if there is one.
func (s *Server) cancel(pid uint32, secret []byte) bool {
	s.mu.Lock()
	c := s.byPID[pid]
	s.mu.Unlock()
	if c == nil || subtle.ConstantTimeCompare(c.secret[:], secret) != 1 {
		return false
	}
	return c.cancelSession()
}
