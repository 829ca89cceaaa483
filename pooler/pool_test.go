package pooler

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/xlgo/xlgo/cluster/clustertest"
	"github.com/xlgo/xlgo/internal/poll"
)

// poolEnv is one plain PostgreSQL shared by the subtests of TestPool.
type poolEnv struct {
	pg      *clustertest.Plain
	key     Key
	badPort int // a loopback port nothing listens on
	mon     *monitor
}

// app is the application_name of the connections a subtest opens.
func app(t *testing.T) string {
	name := strings.NewReplacer("/", ".", " ", "_").Replace(t.Name())
	if len(name) > 60 {
		name = name[len(name)-60:]
	}
	return name
}

func (e *poolEnv) resolve(node string) (string, int, bool) {
	switch node {
	case "dn1":
		return "127.0.0.1", e.pg.Port, true
	case "down":
		return "127.0.0.1", e.badPort, true
	}
	return "", 0, false
}

func (e *poolEnv) pool(t *testing.T, opts Options) *Pool {
	t.Helper()
	if opts.AppName == "" {
		opts.AppName = app(t)
	}
	p := New(e.resolve, opts)
	t.Cleanup(p.Close)
	return p
}

func get(t *testing.T, p *Pool, key Key, settings string) *Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := p.Get(ctx, key, settings)
	if err != nil {
		t.Fatalf("Get(%v, %q): %v", key, settings, err)
	}
	if c == nil || c.PgConn == nil || c.Key != key {
		t.Fatalf("Get(%v, %q) = %+v", key, settings, c)
	}
	return c
}

func wantStats(t *testing.T, p *Pool, open, idle int) {
	t.Helper()
	if st := p.Stats(); st != (Stats{Open: open, Idle: idle}) {
		t.Fatalf("Stats() = %+v; want open %d, idle %d", st, open, idle)
	}
	if n := p.IdleCount(); n != idle {
		t.Fatalf("IdleCount() = %d; want %d", n, idle)
	}
}

// monitor counts the server's backends by application_name, to see from
// outside whether the pool closed a connection (a PgConn is not safe to
// look at while the pool closes it).
type monitor struct {
	conn *pgconn.PgConn
}

// backends waits until the server has n backends of application app.
func (m *monitor) backends(t *testing.T, app string, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	got := ""
	for {
		rr := m.conn.ExecParams(ctx, "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
			[][]byte{[]byte(app)}, nil, nil, nil)
		res := rr.Read()
		if res.Err != nil {
			t.Fatalf("count backends: %v", res.Err)
		}
		got = string(res.Rows[0][0])
		if got == strconv.Itoa(n) {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("server has %s backends of %s; want %d", got, app, n)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func waiting(p *Pool, k Key) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.wait[k]
	return ok
}

func query(t *testing.T, c *Conn, sql string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := c.Exec(ctx, sql).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	if len(res) == 0 || len(res[len(res)-1].Rows) == 0 {
		return ""
	}
	return string(res[len(res)-1].Rows[0][0])
}

func wantPgCode(t *testing.T, err error, code string) {
	t.Helper()
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != code {
		t.Errorf("error %v; want SQLSTATE %s", err, code)
	}
}

func TestPool(t *testing.T) {
	pg := clustertest.StartPlain(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	badPort := l.Addr().(*net.TCPAddr).Port
	l.Close()
	mc, err := pgconn.Connect(context.Background(), pg.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mc.Close(context.Background()) })
	e := &poolEnv{pg: pg, key: Key{Node: "dn1", Database: "postgres", User: pg.User}, badPort: badPort, mon: &monitor{mc}}

	t.Run("key stats", func(t *testing.T) {
		// One connection at most: a second Get waits, and the figures say so.
		p := e.pool(t, Options{MaxPerKey: 1})
		c1 := get(t, p, e.key, "")
		got := make(chan *Conn)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c, _ := p.Get(ctx, e.key, "")
			got <- c
		}()
		var st KeyStats
		poll.Within(t, 10*time.Second, "the second Get to wait", func() bool {
			ks := p.KeyStats()
			if len(ks) == 1 {
				st = ks[0]
			}
			return st.Waiting == 1 && st.MaxWait > 0
		})
		if st.Key != e.key || st.Open != 1 || st.Active != 1 || st.Idle != 0 || st.Gets != 1 || st.Connects != 1 || st.Waits != 1 {
			t.Fatalf("KeyStats while one waits: %+v", st)
		}
		p.Put(c1)
		c2 := <-got
		if c2 != c1 {
			t.Fatalf("the waiter got %v, want the connection given back", c2)
		}
		st = p.KeyStats()[0]
		if st.Waiting != 0 || st.MaxWait != 0 || st.Gets != 2 || st.Waits != 1 || st.WaitTime <= 0 || st.Connects != 1 {
			t.Fatalf("KeyStats after the wait: %+v", st)
		}
		p.Put(c2)
		// A reload's larger size lets the next one in without a wait.
		p.SetLimits(Limits{MaxPerKey: 2})
		if l := p.Limits(); l.MaxPerKey != 2 || l.MaxIdlePerKey != DefaultMaxIdlePerKey {
			t.Fatalf("Limits after SetLimits: %+v", l)
		}
		a, b := get(t, p, e.key, ""), get(t, p, e.key, "")
		if st := p.KeyStats()[0]; st.Open != 2 || st.Waits != 1 {
			t.Fatalf("KeyStats with the larger size: %+v", st)
		}
		p.Put(a)
		p.Put(b)
	})

	t.Run("try idle", func(t *testing.T) {
		p := e.pool(t, Options{AppName: "pool-test"})
		if c := p.TryIdle(e.key, ""); c != nil {
			t.Fatal("TryIdle on an empty pool returned a connection")
		}
		wantStats(t, p, 0, 0)
		c1 := get(t, p, e.key, "set-a")
		c1.Settings = "set-a" // as the caller does once its settings are applied
		p.Put(c1)
		if c := p.TryIdle(e.key, "set-b"); c != nil {
			t.Fatal("TryIdle returned a backend set otherwise")
		}
		if c := p.TryIdle(e.key, "set-a"); c != c1 {
			t.Fatalf("TryIdle = %v, want the idle connection", c)
		}
		wantStats(t, p, 1, 0)
		p.Put(c1)
	})

	t.Run("reuse", func(t *testing.T) {
		p := e.pool(t, Options{AppName: "pool-test"})
		wantStats(t, p, 0, 0)
		c1 := get(t, p, e.key, "")
		wantStats(t, p, 1, 0)
		if got := query(t, c1, "SELECT current_setting('application_name')"); got != "pool-test" {
			t.Errorf("application_name = %q", got)
		}
		pid := c1.PID()
		p.Put(c1)
		wantStats(t, p, 1, 1)
		c2 := get(t, p, e.key, "")
		if c2 != c1 || c2.PID() != pid {
			t.Errorf("Get did not reuse the idle connection")
		}
		wantStats(t, p, 1, 0)
		c3 := get(t, p, e.key, "")
		if c3 == c2 {
			t.Fatal("one connection lent twice")
		}
		wantStats(t, p, 2, 0)
		p.Put(c2)
		p.Put(c3)
		wantStats(t, p, 2, 2)
		// The newest idle connection is lent first.
		if c := get(t, p, e.key, ""); c != c3 {
			t.Errorf("Get did not take the newest idle connection")
		}
	})

	t.Run("idle conns", func(t *testing.T) {
		p := e.pool(t, Options{})
		before := time.Now()
		c1 := get(t, p, e.key, "")
		c2 := get(t, p, e.key, "")
		if len(p.IdleConns()) != 0 {
			t.Fatalf("idle conns while both are lent: %v", p.IdleConns())
		}
		p.Put(c2)
		p.Put(c1)
		idle := p.IdleConns()
		if len(idle) != 2 || idle[0].PID != c2.PID() || idle[1].PID != c1.PID() || idle[0].Key != e.key {
			t.Fatalf("IdleConns = %+v, want c2 (pid %d) then c1 (pid %d)", idle, c2.PID(), c1.PID())
		}
		if idle[0].Connected.Before(before) || idle[0].IdleSince.Before(idle[0].Connected) || c1.ConnectedAt().Before(before) {
			t.Errorf("times: %+v, connected %v, test began %v", idle[0], c1.ConnectedAt(), before)
		}
	})

	t.Run("cancel on its way", func(t *testing.T) {
		// A CancelRequest sent as its statement ends must not stop the
		// statement of whoever borrows the backend next.
		p := e.pool(t, Options{MaxPerKey: 1})
		for i := 0; i < 5; i++ {
			c := get(t, p, e.key, "")
			query(t, c, "SELECT 1")
			c.CancelAsync(nil)
			p.Put(c)
			c = get(t, p, e.key, "")
			if _, err := c.Exec(context.Background(), "SELECT pg_sleep(0.2)").ReadAll(); err != nil {
				t.Fatalf("round %d: the next borrower's statement: %v", i, err)
			}
			p.Put(c)
		}
	})

	t.Run("settings", func(t *testing.T) {
		p := e.pool(t, Options{MaxPerKey: 3})
		a := get(t, p, e.key, "A")
		b := get(t, p, e.key, "B")
		a.Settings, b.Settings = "A", "B"
		p.Put(a)
		p.Put(b)
		if c := get(t, p, e.key, "A"); c != a {
			t.Errorf("Get(A) did not take the idle connection set for A")
		} else {
			p.Put(c)
		}
		if c := get(t, p, e.key, "B"); c != b {
			t.Errorf("Get(B) did not take the idle connection set for B")
		} else {
			p.Put(c)
		}
		// Below the limit a new connection may be opened; at it, the oldest
		// idle one is lent, to be reset by the caller.
		c := get(t, p, e.key, "C")
		if c == a || c == b {
			t.Errorf("Get(C) below MaxPerKey took a connection set for another session")
		}
		wantStats(t, p, 3, 2)
		d := get(t, p, e.key, "D")
		if d != a {
			t.Errorf("Get(D) at MaxPerKey did not take the oldest idle connection")
		}
		wantStats(t, p, 3, 1)
		p.Put(c)
		p.Put(d)
	})

	t.Run("wait for a free connection", func(t *testing.T) {
		p := e.pool(t, Options{MaxPerKey: 1, WaitTimeout: 20 * time.Second})
		c := get(t, p, e.key, "")
		got := make(chan *Conn, 1)
		errc := make(chan error, 1)
		go func() {
			w, err := p.Get(context.Background(), e.key, "")
			got <- w
			errc <- err
		}()
		poll.Until(t, "Get to wait", func() bool { return waiting(p, e.key) })
		p.Put(c)
		if w := <-got; w != c {
			t.Errorf("the waiter got %p; want the connection put back %p", w, c)
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		wantStats(t, p, 1, 0)

		// Discard frees a place too: the waiter opens a new connection.
		go func() {
			w, err := p.Get(context.Background(), e.key, "")
			got <- w
			errc <- err
		}()
		poll.Until(t, "Get to wait", func() bool { return waiting(p, e.key) })
		p.Discard(c)
		w := <-got
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		if w == c {
			t.Error("the waiter got the discarded connection")
		}
		e.mon.backends(t, app(t), 1)
		wantStats(t, p, 1, 0)
		p.Put(w)
	})

	t.Run("wait timeout", func(t *testing.T) {
		p := e.pool(t, Options{MaxPerKey: 1, WaitTimeout: 150 * time.Millisecond})
		c := get(t, p, e.key, "")
		start := time.Now()
		_, err := p.Get(context.Background(), e.key, "")
		if d := time.Since(start); d < 150*time.Millisecond {
			t.Errorf("Get gave up after %v, before WaitTimeout", d)
		}
		wantPgCode(t, err, "53300")
		if err == nil || !strings.Contains(err.Error(), "dn1") {
			t.Errorf("error %q does not name the datanode", err)
		}
		// Another key has its own limit.
		other := e.key
		other.Database = "template1"
		p.Put(get(t, p, other, ""))
		wantStats(t, p, 2, 1)

		// A cancelled Get returns at once.
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := p.Get(ctx, e.key, ""); err == nil {
			t.Error("Get with a cancelled context succeeded")
		}
		p.Put(c)
		wantStats(t, p, 2, 2)
	})

	t.Run("no wait", func(t *testing.T) {
		// GetNoWait never waits for a borrower: it opens a connection while
		// the key has room, takes an idle one, and else fails at once.
		p := e.pool(t, Options{MaxPerKey: 1, WaitTimeout: 20 * time.Second})
		c, err := p.GetNoWait(context.Background(), e.key, "")
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, err = p.GetNoWait(context.Background(), e.key, "")
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("GetNoWait waited %v", d)
		}
		wantPgCode(t, err, "53300")
		p.Put(c)
		if c2, err := p.GetNoWait(context.Background(), e.key, ""); err != nil || c2 != c {
			t.Errorf("GetNoWait = %p, %v; want the idle connection %p", c2, err, c)
		} else {
			p.Put(c2)
		}
		wantStats(t, p, 1, 1)
	})

	t.Run("put refuses", func(t *testing.T) {
		p := e.pool(t, Options{MaxIdlePerKey: 1})
		c := get(t, p, e.key, "")
		query(t, c, "BEGIN")
		p.Put(c)
		wantStats(t, p, 0, 0)
		e.mon.backends(t, app(t), 0)

		c1 := get(t, p, e.key, "")
		c2 := get(t, p, e.key, "")
		p.Put(c1)
		p.Put(c2) // over MaxIdlePerKey
		wantStats(t, p, 1, 1)
		e.mon.backends(t, app(t), 1)

		c3 := get(t, p, e.key, "")
		c3.Close(context.Background())
		p.Put(c3) // a closed connection is not kept
		wantStats(t, p, 0, 0)

		p.Put(nil)
		p.Discard(nil)
		p.Put(&Conn{Key: e.key})
		p.Discard(&Conn{Key: e.key})
		wantStats(t, p, 0, 0)
	})

	t.Run("failed over", func(t *testing.T) {
		// A backend of a datanode's old address is never lent again, in
		// use when the datanode moved or idle.
		var moved atomic.Bool
		p := New(func(node string) (string, int, bool) {
			if moved.Load() {
				return "127.0.0.1", e.badPort, true
			}
			return e.resolve(node)
		}, Options{AppName: app(t)})
		t.Cleanup(p.Close)
		c1 := get(t, p, e.key, "")
		c2 := get(t, p, e.key, "")
		if c1.Host != "127.0.0.1" || c1.Port != e.pg.Port {
			t.Fatalf("backend reached at %s:%d, want 127.0.0.1:%d", c1.Host, c1.Port, e.pg.Port)
		}
		p.Put(c1)
		wantStats(t, p, 2, 1)
		moved.Store(true)
		p.Put(c2)
		wantStats(t, p, 1, 1)
		if c := p.TryIdle(e.key, ""); c != nil {
			t.Fatal("an idle backend of the old address was lent")
		}
		wantStats(t, p, 0, 0)
		e.mon.backends(t, app(t), 0)
	})

	t.Run("idle connection closed by the server", func(t *testing.T) {
		p := e.pool(t, Options{})
		c := get(t, p, e.key, "")
		p.Put(c)
		c.PgConn.Close(context.Background())
		c2 := get(t, p, e.key, "")
		if c2 == c {
			t.Fatal("Get lent a closed connection")
		}
		if got := query(t, c2, "SELECT 1"); got != "1" {
			t.Errorf("SELECT 1 = %q", got)
		}
		wantStats(t, p, 1, 0)
		p.Put(c2)
	})

	t.Run("close idle and dropping", func(t *testing.T) {
		p := e.pool(t, Options{})
		other := e.key
		other.Database = "template1"
		a1, a2, b := get(t, p, e.key, ""), get(t, p, e.key, ""), get(t, p, other, "")
		p.Put(a1)
		p.Put(a2)
		p.Put(b)
		wantStats(t, p, 3, 3)
		if n := p.CloseIdle(func(k Key) bool { return k.Database == "template1" }); n != 1 {
			t.Errorf("CloseIdle(template1) = %d; want 1", n)
		}
		wantStats(t, p, 2, 2)
		if !b.IsClosed() {
			t.Error("CloseIdle left the connection open")
		}

		busy := get(t, p, e.key, "")
		wantStats(t, p, 2, 1)
		done := p.Dropping("postgres")
		wantStats(t, p, 1, 0)
		// A connection of a database being dropped is closed when returned.
		p.Put(busy)
		wantStats(t, p, 0, 0)
		e.mon.backends(t, app(t), 0)
		// Others still pool.
		p.Put(get(t, p, other, ""))
		wantStats(t, p, 1, 1)
		done()
		p.Put(get(t, p, e.key, ""))
		wantStats(t, p, 2, 2)
		if n := p.CloseIdle(nil); n != 2 {
			t.Errorf("CloseIdle(nil) = %d; want 2", n)
		}
		wantStats(t, p, 0, 0)
	})

	t.Run("idle timeout", func(t *testing.T) {
		p := e.pool(t, Options{IdleTimeout: 100 * time.Millisecond})
		c := get(t, p, e.key, "")
		p.Put(c)
		poll.Until(t, "the idle connection to be closed", func() bool { return p.Stats() == Stats{} })
		e.mon.backends(t, app(t), 0)
		// A busy connection is not reaped.
		c2 := get(t, p, e.key, "")
		time.Sleep(300 * time.Millisecond)
		if c2.IsClosed() {
			t.Error("a busy connection was closed")
		}
		wantStats(t, p, 1, 0)
		p.Put(c2)
	})

	t.Run("connect errors", func(t *testing.T) {
		p := e.pool(t, Options{ConnectTimeout: 5 * time.Second})
		ctx := context.Background()
		_, err := p.Get(ctx, Key{Node: "nope", Database: "postgres", User: pg.User}, "")
		wantPgCode(t, err, "42704")
		_, err = p.Get(ctx, Key{Node: "down", Database: "postgres", User: pg.User}, "")
		wantPgCode(t, err, "08001")
		if err == nil || !strings.Contains(err.Error(), "down") {
			t.Errorf("error %q does not name the datanode", err)
		}
		// The datanode's own refusal reaches the client with its SQLSTATE.
		_, err = p.Get(ctx, Key{Node: "dn1", Database: "no_such_db", User: pg.User}, "")
		wantPgCode(t, err, "3D000")
		_, err = p.Get(ctx, Key{Node: "dn1", Database: "postgres", User: "no_such_role"}, "")
		wantPgCode(t, err, "28000")
		wantStats(t, p, 0, 0)
	})

	t.Run("notices", func(t *testing.T) {
		p := e.pool(t, Options{})
		c := get(t, p, e.key, "")
		var mu sync.Mutex
		var got []string
		c.SetNoticeHandler(func(n *pgconn.Notice) {
			mu.Lock()
			got = append(got, n.Message)
			mu.Unlock()
		})
		query(t, c, "DO $$BEGIN RAISE NOTICE 'hello'; END$$")
		mu.Lock()
		if len(got) != 1 || got[0] != "hello" {
			t.Errorf("notices %q; want [hello]", got)
		}
		mu.Unlock()
		p.Put(c)
		c = get(t, p, e.key, "")
		query(t, c, "DO $$BEGIN RAISE NOTICE 'dropped'; END$$")
		mu.Lock()
		if len(got) != 1 {
			t.Errorf("a returned connection still sent notices to the old handler: %q", got)
		}
		mu.Unlock()
		p.Put(c)
	})

	t.Run("password", func(t *testing.T) {
		p := e.pool(t, Options{})
		var asked []Key
		p.SetPassword(func(k Key, host string, port int) string {
			if host != "127.0.0.1" || port != pg.Port {
				t.Errorf("password asked for %s:%d", host, port)
			}
			asked = append(asked, k)
			return "secret"
		})
		p.Put(get(t, p, e.key, ""))
		if len(asked) != 1 || asked[0] != e.key {
			t.Errorf("password asked for %v", asked)
		}
	})

	t.Run("close", func(t *testing.T) {
		p := New(e.resolve, Options{AppName: app(t)})
		c1, c2 := get(t, p, e.key, ""), get(t, p, e.key, "")
		p.Put(c1)
		p.Close()
		if !c1.IsClosed() {
			t.Error("Close left an idle connection open")
		}
		e.mon.backends(t, app(t), 1)
		wantStats(t, p, 1, 0)
		p.Put(c2)
		wantStats(t, p, 0, 0)
		e.mon.backends(t, app(t), 0)
	})
}
