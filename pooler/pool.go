package pooler

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// Key names one pool: connections to one datanode as one user in one database.
type Key struct {
	Node, Database, User string
}

// Conn is a pooled backend connection to a datanode.
type Conn struct {
	*pgconn.PgConn
	Key    Key
	idleAt time.Time
	notice func(*pgconn.Notice)
	mu     sync.Mutex
}

// SetNoticeHandler routes the backend's notices to fn (nil drops them).
func (c *Conn) SetNoticeHandler(fn func(*pgconn.Notice)) {
	c.mu.Lock()
	c.notice = fn
	c.mu.Unlock()
}

func (c *Conn) onNotice(n *pgconn.Notice) {
	c.mu.Lock()
	fn := c.notice
	c.mu.Unlock()
	if fn != nil {
		fn(n)
	}
}

// Resolver gives a datanode's address; ok is false for an unknown node.
type Resolver func(node string) (host string, port int, ok bool)

// Options tune a Pool.
type Options struct {
	MaxIdlePerKey  int           // idle connections kept per key (default 16)
	IdleTimeout    time.Duration // idle connections older than this are closed (default 5 min)
	ConnectTimeout time.Duration // default 10 s
	AppName        string        // application_name the datanodes see
	Logger         *slog.Logger
}

// Pool is the set of pools of one coordinator.
type Pool struct {
	resolve  Resolver
	opts     Options
	mu       sync.Mutex
	idle     map[Key][]*Conn
	closed   bool
	dropping map[string]int // databases being dropped: their connections are not kept
}

// New makes a pool that finds datanodes with resolve.
func New(resolve Resolver, opts Options) *Pool {
	if opts.MaxIdlePerKey == 0 {
		opts.MaxIdlePerKey = 16
	}
	if opts.IdleTimeout == 0 {
		opts.IdleTimeout = 5 * time.Minute
	}
	if opts.ConnectTimeout == 0 {
		opts.ConnectTimeout = 10 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Pool{resolve: resolve, opts: opts, idle: map[Key][]*Conn{}}
}

// Get borrows a connection for key, opening one when none is idle.
func (p *Pool) Get(ctx context.Context, key Key) (*Conn, error) {
	p.mu.Lock()
	for {
		list := p.idle[key]
		if len(list) == 0 {
			break
		}
		c := list[len(list)-1]
		p.idle[key] = list[:len(list)-1]
		if time.Since(c.idleAt) > p.opts.IdleTimeout || c.IsClosed() {
			go c.Close(context.Background())
			continue
		}
		p.mu.Unlock()
		return c, nil
	}
	p.mu.Unlock()
	return p.connect(ctx, key)
}

func (p *Pool) connect(ctx context.Context, key Key) (*Conn, error) {
	host, port, ok := p.resolve(key.Node)
	if !ok {
		return nil, &pgconn.PgError{Severity: "ERROR", Code: "42704", Message: fmt.Sprintf("PGXC Node %s: object not defined", key.Node)}
	}
	cfg, err := pgconn.ParseConfig("sslmode=disable")
	if err != nil {
		return nil, err
	}
	cfg.Host = host
	cfg.Port = uint16(port)
	cfg.User = key.User
	cfg.Database = key.Database
	cfg.ConnectTimeout = p.opts.ConnectTimeout
	cfg.RuntimeParams = map[string]string{}
	if p.opts.AppName != "" {
		cfg.RuntimeParams["application_name"] = p.opts.AppName
	}
	c := &Conn{Key: key}
	cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) { c.onNotice(n) }
	pc, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		if pe, ok := unwrapPgError(err); ok {
			// The datanode refused us (no such database, role...): its words.
			return nil, pe
		}
		return nil, &pgconn.PgError{
			Severity: "ERROR", Code: "08001",
			Message: fmt.Sprintf("could not connect to datanode %s (%s): %v", key.Node, net.JoinHostPort(host, strconv.Itoa(port)), rootCause(err)),
		}
	}
	c.PgConn = pc
	return c, nil
}

func unwrapPgError(err error) (*pgconn.PgError, bool) {
	for e := err; e != nil; {
		if pe, ok := e.(*pgconn.PgError); ok {
			return pe, true
		}
		u, ok := e.(interface{ Unwrap() error })
		if !ok {
			return nil, false
		}
		e = u.Unwrap()
	}
	return nil, false
}

func rootCause(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok || u.Unwrap() == nil {
			return err
		}
		err = u.Unwrap()
	}
}

// Put returns a connection. A broken one, one inside a transaction, or one
// whose session state cannot be reset is closed instead; reset runs
// DISCARD ALL first (the session changed settings on it).
func (p *Pool) Put(c *Conn, reset bool) {
	if c == nil || c.PgConn == nil {
		return
	}
	c.SetNoticeHandler(nil)
	if c.IsClosed() || c.TxStatus() != 'I' {
		go c.Close(context.Background())
		return
	}
	if reset {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := c.Exec(ctx, "DISCARD ALL").ReadAll()
		cancel()
		if err != nil {
			go c.Close(context.Background())
			return
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.dropping[c.Key.Database] > 0 || len(p.idle[c.Key]) >= p.opts.MaxIdlePerKey {
		go c.Close(context.Background())
		return
	}
	c.idleAt = time.Now()
	p.idle[c.Key] = append(p.idle[c.Key], c)
}

// Discard closes a connection that must not be reused.
func (p *Pool) Discard(c *Conn) {
	if c != nil && c.PgConn != nil {
		go c.Close(context.Background())
	}
}

// CloseIdle closes the idle connections whose key matches (nil matches all)
// and tells how many it closed (pgxc_pool_reload, CLEAN CONNECTION).
func (p *Pool) CloseIdle(match func(Key) bool) int {
	p.mu.Lock()
	var victims []*Conn
	for k, list := range p.idle {
		if match == nil || match(k) {
			victims = append(victims, list...)
			delete(p.idle, k)
		}
	}
	p.mu.Unlock()
	for _, c := range victims {
		c.Close(context.Background())
	}
	return len(victims)
}

// Dropping stops pooling connections to a database and closes its idle
// ones, until the returned function is called (DROP DATABASE).
func (p *Pool) Dropping(db string) (done func()) {
	p.mu.Lock()
	if p.dropping == nil {
		p.dropping = map[string]int{}
	}
	p.dropping[db]++
	p.mu.Unlock()
	p.CloseIdle(func(k Key) bool { return k.Database == db })
	return func() {
		p.mu.Lock()
		p.dropping[db]--
		p.mu.Unlock()
	}
}

// IdleCount is the number of idle connections held.
func (p *Pool) IdleCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, l := range p.idle {
		n += len(l)
	}
	return n
}

// Close closes every idle connection and stops pooling.
func (p *Pool) Close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.CloseIdle(nil)
}
