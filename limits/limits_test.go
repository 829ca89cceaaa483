package limits

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/xlgo/xlgo/cluster/clustertest"
	"github.com/xlgo/xlgo/internal/poll"
)

// The limits the coordinator runs with in this test.
const (
	maxClientConn  = 300
	authTimeout    = 2 * time.Second
	maxGatherBytes = 8_000_000
)

// coord is the coordinator under test, and plain PostgreSQL (its first
// datanode) to compare answers with.
type coord struct {
	c      *clustertest.Cluster
	pid    int
	addr   string // the coordinator
	pgAddr string // datanode1, a plain PostgreSQL
	pprof  string // the coordinator's profiling endpoint
	user   string
}

// baseline is what the coordinator holds when idle.
type baseline struct {
	goroutines int
	rssKB      int64
	heapMB     int64 // the Go heap in use (what is allocated, touched or not)
}

// TestHostileClients runs each hostile client against one coordinator; after
// each, a new client's query is answered, the coordinator's goroutines come
// back to their idle number and its memory stays bounded.
func TestHostileClients(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Datanodes: 2})
	pprofArgs, pprofAddr := c.PprofArgs(0)
	co := &coord{c: c, user: c.User,
		addr:   fmt.Sprintf("127.0.0.1:%d", c.CoordPort(0)),
		pgAddr: fmt.Sprintf("127.0.0.1:%d", c.DatanodePort(0)),
		pprof:  pprofAddr}
	// 20 MB of rows, loaded before the coordinator gets its small budget
	// (an INSERT ... SELECT passes its rows through the coordinator).
	conn := co.connect(t)
	for _, sql := range []string{
		"CREATE TABLE big (id int PRIMARY KEY, pad text) DISTRIBUTE BY HASH (id)",
		"INSERT INTO big SELECT g, repeat(md5(g::text), 32) FROM generate_series(1, 20000) g",
	} {
		if _, err := conn.Exec(ctxT(t, time.Minute), sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	conn.Close(context.Background())
	p := c.RestartCoordinator(t, 0, nil, append(pprofArgs,
		"--max-client-conn", strconv.Itoa(maxClientConn),
		"--authentication-timeout", authTimeout.String(),
		"--max-gather-bytes", strconv.Itoa(maxGatherBytes))...)
	co.pid = p.Pid
	co.healthy(t)
	base := co.measure(t)
	t.Logf("idle coordinator: %d goroutines, %d MB resident, %d MB of heap", base.goroutines, base.rssKB>>10, base.heapMB)

	for _, tc := range []struct {
		name string
		run  func(t *testing.T, co *coord, base baseline)
		// rssMB bounds the coordinator's resident memory above its idle size after the case.
		rssMB int64
	}{
		{"message lengths", messageLengths, 200},
		{"truncated messages", truncatedMessages, 200},
		{"slow clients", slowClients, 200},
		{"too many clients", tooManyClients, 200},
		{"memory budget", memoryBudget, 200},
		{"invalid UTF-8", invalidUTF8, 200},
		{"deep nesting", deepNesting, 200},
		// Preparing and running a statement of 65,535 parameters holds
		// some 300 MB for a while: its parse tree, in PostgreSQL's parser
		// and read into Go, and the SQL written back from it.
		{"parameters", parameters, 600},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, co, base)
			co.healthy(t)
			co.settled(t, base, tc.rssMB)
		})
	}
}

// ---- the cases ----

// messageLengths: lengths below 4, negative, past the limit (1 GB) get
// FATAL 08P01; a length announced but not sent costs what was sent only.
func messageLengths(t *testing.T, co *coord, base baseline) {
	for _, pkt := range [][]byte{
		{0x7f, 0xff, 0xff, 0xff, 0, 3, 0, 0}, {0xff, 0xff, 0xff, 0xf0, 0, 3, 0, 0}, {0, 0, 0, 3, 0, 3, 0, 0},
	} {
		nc := co.dial(t, co.addr)
		nc.Write(pkt)
		wantFatal(t, nc, "08P01", "invalid length of startup packet")
	}
	for _, hdr := range [][]byte{
		{'Q', 0xff, 0xff, 0xff, 0xff}, {'Q', 0x80, 0, 0, 0}, {'Q', 0, 0, 0, 3}, {'Q', 0x40, 0, 0, 4}, {'d', 0x7f, 0xff, 0xff, 0xff},
	} {
		rc := co.startup(t, co.addr)
		rc.nc.Write(hdr)
		wantFatal(t, rc.nc, "08P01", "invalid message length")
	}
	// Forty clients announce a message of almost 1 GB and send a few bytes.
	var held []*rawClient
	for range 40 {
		rc := co.startup(t, co.addr)
		rc.nc.Write(append([]byte{'Q', 0x3f, 0xff, 0xff, 0xf0}, "SELECT 1"...))
		held = append(held, rc)
	}
	co.healthy(t)
	if m := co.measure(t); m.rssKB-base.rssKB > 200<<10 || m.heapMB-base.heapMB > 200 {
		t.Errorf("40 clients that announced 1 GB each and sent 8 bytes: the coordinator grew from %d MB to %d MB resident, its heap from %d MB to %d MB",
			base.rssKB>>10, m.rssKB>>10, base.heapMB, m.heapMB)
	}
	for _, rc := range held {
		rc.nc.Close()
	}
}

// truncatedMessages: a packet or message cut short ends its connection
// quietly once the client goes; a message whose fields overrun its length
// is a protocol violation (08P01), as in PostgreSQL.
func truncatedMessages(t *testing.T, co *coord, _ baseline) {
	nc := co.dial(t, co.addr)
	nc.Write([]byte{0, 0, 0, 100, 0, 3, 0, 0, 'u', 's'})
	nc.(*net.TCPConn).CloseWrite()
	wantClosed(t, nc)

	rc := co.startup(t, co.addr)
	rc.nc.Write([]byte{'Q', 0, 0, 0, 100, 'S', 'E', 'L'})
	rc.nc.(*net.TCPConn).CloseWrite()
	wantClosed(t, rc.nc)

	// Bind announcing 65,535 parameters and holding one; Parse announcing
	// 65,535 parameter types and holding one.
	bind := []byte{'B', 0, 0, 0, 18, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 1, 'x', 0, 0}
	parse := []byte{'P', 0, 0, 0, 18, 0, 'S', 'E', 'L', 'E', 'C', 'T', 0, 0xff, 0xff, 0, 0, 0, 25}
	for _, msg := range [][]byte{bind, parse} {
		binary.BigEndian.PutUint32(msg[1:], uint32(len(msg)-1))
		for _, addr := range []string{co.addr, co.pgAddr} {
			rc := co.startup(t, addr)
			prepare, _ := (&pgproto3.Parse{Query: "SELECT $1::text"}).Encode(nil)
			rc.nc.Write(append(append(prepare, msg...), 'S', 0, 0, 0, 4))
			e := firstError(t, rc)
			if e == nil || e.Code != "08P01" {
				t.Errorf("%c message cut inside its parameters, at %s: %+v", msg[0], who(co, addr), e)
			}
		}
	}
}

// slowClients: a client that says nothing, or sends its startup packet a
// byte at a time, is cut off at the authentication timeout; meanwhile other
// clients are served without waiting.
func slowClients(t *testing.T, co *coord, _ baseline) {
	const n = 40
	pkt := startupPacket(co.user)
	var wg sync.WaitGroup
	cut := make(chan time.Duration, 2*n)
	for i := range 2 * n {
		nc := co.dial(t, co.addr)
		nc.SetDeadline(time.Now().Add(30 * time.Second))
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			if i%2 == 1 { // a byte every 200 ms: 8 s for the whole packet
				for j := range pkt {
					if _, err := nc.Write(pkt[j : j+1]); err != nil {
						break
					}
					time.Sleep(200 * time.Millisecond)
				}
			}
			io.Copy(io.Discard, nc)
			cut <- time.Since(start)
		}()
	}
	// Others are served meanwhile, at once.
	conn := co.connect(t)
	for i := range 10 {
		start := time.Now()
		var got int
		if err := conn.QueryRow(ctxT(t, 10*time.Second), "SELECT count(*) FROM big WHERE id <= $1", i).Scan(&got); err != nil || got != i {
			t.Fatalf("query while slow clients wait: %d, %v", got, err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("a query took %v while slow clients waited", d)
		}
		time.Sleep(100 * time.Millisecond)
	}
	conn.Close(context.Background())
	wg.Wait()
	close(cut)
	for d := range cut {
		if d < authTimeout-100*time.Millisecond || d > authTimeout+3*time.Second {
			t.Errorf("a slow client was cut off after %v; the authentication timeout is %v", d, authTimeout)
		}
	}
}

// tooManyClients: past --max-client-conn a client gets FATAL 53300 "sorry,
// too many clients already", PostgreSQL's answer; those connected go on,
// cancel requests still work, and places free up as clients leave.
func tooManyClients(t *testing.T, co *coord, _ baseline) {
	var clients []*rawClient
	for range maxClientConn {
		clients = append(clients, co.startup(t, co.addr))
	}
	_, err := pgconn.Connect(ctxT(t, 10*time.Second), co.dsn(co.addr))
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "53300" || pe.Severity != "FATAL" || pe.Message != "sorry, too many clients already" {
		t.Fatalf("client %d: %v, want FATAL 53300 sorry, too many clients already", maxClientConn+1, err)
	}
	// The ones connected are served; a cancel request is served too.
	victim := clients[0]
	victim.send(&pgproto3.Query{String: "SELECT pg_sleep(30)"})
	time.Sleep(300 * time.Millisecond)
	cancel := co.dial(t, co.addr)
	req := binary.BigEndian.AppendUint32([]byte{0, 0, 0, 16, 0x04, 0xd2, 0x16, 0x2e}, victim.pid)
	cancel.Write(append(req, victim.secret...))
	if e := firstError(t, victim); e == nil || e.Code != "57014" {
		t.Errorf("cancel request while full: %+v", e)
	}
	last := clients[len(clients)-1]
	last.send(&pgproto3.Query{String: "SELECT count(*) FROM big"})
	if rows := last.rows(t); len(rows) != 1 || string(rows[0][0]) != "20000" {
		t.Errorf("a connected client while full: %q", rows)
	}
	// A place frees up when a client leaves.
	clients[1].nc.Close()
	poll.Until(t, "a free place", func() bool {
		conn, err := pgconn.Connect(ctxT(t, 10*time.Second), co.dsn(co.addr))
		if err == nil {
			conn.Close(context.Background())
		}
		return err == nil
	})
	for _, rc := range clients {
		rc.nc.Close()
	}
}

// memoryBudget: a statement that would pull more rows to the coordinator
// than its budget fails with 54000 naming the budget, and the coordinator's
// memory stays bounded meanwhile.
func memoryBudget(t *testing.T, co *coord, base baseline) {
	conn := co.connect(t)
	defer conn.Close(context.Background())
	// A join on a column that is not the distribution column: the
	// coordinator builds a hash table of one side (20 MB).
	const query = "SELECT count(*) FROM big a JOIN big b ON a.pad = b.pad"
	var peak int64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
				if kb, err := rssKB(co.pid); err == nil && kb > peak {
					peak = kb
				}
			}
		}
	}()
	var n int64
	err := conn.QueryRow(ctxT(t, time.Minute), query).Scan(&n)
	close(stop)
	<-sampled
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "54000" || !strings.Contains(pe.Message, strconv.Itoa(maxGatherBytes)) ||
		!strings.Contains(pe.Hint, "--max-gather-bytes") {
		t.Fatalf("%s: %d, %v; want 54000 naming the budget of %d bytes and --max-gather-bytes", query, n, err, maxGatherBytes)
	}
	t.Logf("%s: %s %s; resident memory peaked at %d MB (idle %d MB)", query, pe.Code, pe.Message, peak>>10, base.rssKB>>10)
	if peak-base.rssKB > 100<<10 {
		t.Errorf("a statement with a budget of %d bytes took the coordinator from %d MB to %d MB", maxGatherBytes, base.rssKB>>10, peak>>10)
	}
	// The same session goes on.
	if err := conn.QueryRow(ctxT(t, 10*time.Second), "SELECT count(*) FROM big").Scan(&n); err != nil || n != 20000 {
		t.Fatalf("after the budget error: %d, %v", n, err)
	}
}

// invalidUTF8: text that is not UTF-8, in a query, a statement to prepare
// or a text parameter, gets PostgreSQL's own error (22021, naming the bad
// bytes) and the session goes on.
func invalidUTF8(t *testing.T, co *coord, _ baseline) {
	cases := []struct {
		name string
		msgs []pgproto3.FrontendMessage
	}{
		{"query", []pgproto3.FrontendMessage{&pgproto3.Query{String: "SELECT 'a\xffb'"}}},
		{"query, cut character", []pgproto3.FrontendMessage{&pgproto3.Query{String: "SELECT 'a\xe2\x28\xa1'"}}},
		{"query, surrogate", []pgproto3.FrontendMessage{&pgproto3.Query{String: "SELECT count(*) FROM big WHERE pad = '\xed\xa0\x80'"}}},
		{"identifier", []pgproto3.FrontendMessage{&pgproto3.Query{String: "SELECT 1 AS \"\xc3\""}}},
		{"parse", []pgproto3.FrontendMessage{&pgproto3.Parse{Query: "SELECT 'x\xf8'"}, &pgproto3.Sync{}}},
		{"text parameter", []pgproto3.FrontendMessage{&pgproto3.Parse{Query: "SELECT $1::text"},
			&pgproto3.Bind{Parameters: [][]byte{[]byte("ok\xc0\xaf")}}, &pgproto3.Execute{}, &pgproto3.Sync{}}},
	}
	for _, tc := range cases {
		var answers [2]*pgproto3.ErrorResponse
		for i, addr := range []string{co.addr, co.pgAddr} {
			rc := co.startup(t, addr)
			rc.send(tc.msgs...)
			answers[i] = firstError(t, rc)
			// The session goes on.
			rc.send(&pgproto3.Query{String: "SELECT 7"})
			if rows := rc.rows(t); len(rows) != 1 || string(rows[0][0]) != "7" {
				t.Errorf("%s at %s: the session did not go on: %q", tc.name, who(co, addr), rows)
			}
			rc.nc.Close()
		}
		got, want := answers[0], answers[1]
		if got == nil || want == nil || got.Code != "22021" || got.Code != want.Code || got.Message != want.Message {
			t.Errorf("%s: coordinator %+v\nPostgreSQL %+v", tc.name, errText(got), errText(want))
		}
	}
}

// deepNesting: a statement nested too deep gets 54001 "stack depth limit
// exceeded", as from PostgreSQL (PostgreSQL's parser in the coordinator
// would overflow its stack on it and kill it); one nested less deep runs.
func deepNesting(t *testing.T, co *coord, _ baseline) {
	for _, sql := range []string{
		"SELECT 1" + strings.Repeat("+1", 100000),
		"SELECT 1" + strings.Repeat(" UNION ALL SELECT 1", 20000),
		"SELECT 'a'" + strings.Repeat("||'a'", 30000) + " FROM big WHERE id = 1",
		"SELECT count(*) FROM big WHERE " + strings.Repeat("NOT ", 8000) + "id = 1",
	} {
		for _, addr := range []string{co.addr, co.pgAddr} {
			rc := co.startup(t, addr)
			rc.send(&pgproto3.Query{String: sql})
			e := firstError(t, rc)
			if e == nil || e.Code != "54001" || e.Message != "stack depth limit exceeded" {
				t.Errorf("%.40s... at %s: %+v", sql, who(co, addr), errText(e))
			}
			rc.nc.Close()
		}
		if pid := co.c.CoordinatorPid(0); pid != co.pid {
			t.Fatalf("the coordinator died (pid %d, now %d)\n%s", co.pid, pid, co.c.LogTail("coord1", 30))
		}
	}
	conn := co.connect(t)
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(ctxT(t, 30*time.Second), "SELECT 1"+strings.Repeat("+1", 400)+" FROM big WHERE id = 7").Scan(&n); err != nil || n != 401 {
		t.Errorf("400 levels: %d, %v", n, err)
	}
}

// arrayOfParams is a statement of n parameters.
func arrayOfParams(n int) string {
	var sql strings.Builder
	sql.WriteString("SELECT cardinality(ARRAY[")
	for i := range n {
		if i > 0 {
			sql.WriteString(",")
		}
		fmt.Fprintf(&sql, "$%d::int", i+1)
	}
	sql.WriteString("])")
	return sql.String()
}

// parameters: a statement with 65,535 parameters (the protocol's most)
// runs; one that needs more cannot be bound, and says so as PostgreSQL does.
func parameters(t *testing.T, co *coord, _ baseline) {
	const most = 65535
	params := make([][]byte, most)
	for i := range params {
		params[i] = []byte(strconv.Itoa(i))
	}
	rc := co.startup(t, co.addr)
	rc.send(&pgproto3.Parse{Query: arrayOfParams(most)}, &pgproto3.Bind{Parameters: params}, &pgproto3.Execute{}, &pgproto3.Sync{})
	if rows := rc.rows(t); len(rows) != 1 || string(rows[0][0]) != strconv.Itoa(most) {
		t.Errorf("65,535 parameters: %q", rows)
	}
	rc.nc.Close()

	// A statement of 65,536 parameters can be prepared but never bound.
	for _, addr := range []string{co.addr, co.pgAddr} {
		rc := co.startup(t, addr)
		rc.send(&pgproto3.Parse{Query: arrayOfParams(most + 1)}, &pgproto3.Bind{Parameters: params},
			&pgproto3.Execute{}, &pgproto3.Sync{})
		if e := firstError(t, rc); e == nil || e.Code != "08P01" {
			t.Errorf("$65536 bound with 65,535 values at %s: %+v", who(co, addr), errText(e))
		}
		rc.send(&pgproto3.Query{String: "SELECT 8"})
		if rows := rc.rows(t); len(rows) != 1 || string(rows[0][0]) != "8" {
			t.Errorf("after $65536 at %s: %q", who(co, addr), rows)
		}
		rc.nc.Close()
	}
}

// ---- the coordinator's health ----

// healthy: a new client's query is answered correctly.
func (co *coord) healthy(t *testing.T) {
	t.Helper()
	conn := co.connect(t)
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(ctxT(t, 30*time.Second), "SELECT count(*) FROM big").Scan(&n); err != nil || n != 20000 {
		t.Fatalf("health query: %d, %v", n, err)
	}
}

// settled waits until the coordinator's goroutines are back near their idle
// number and checks its resident memory is bounded.
func (co *coord) settled(t *testing.T, base baseline, rssMB int64) {
	t.Helper()
	var m baseline
	poll.Until(t, "the coordinator's goroutines back at their idle number", func() bool {
		m = co.measure(t)
		return m.goroutines <= base.goroutines+5
	})
	t.Logf("coordinator: %d goroutines (idle %d), %d MB resident (idle %d MB)", m.goroutines, base.goroutines, m.rssKB>>10, base.rssKB>>10)
	if m.rssKB-base.rssKB > rssMB<<10 {
		t.Errorf("the coordinator holds %d MB, %d MB when idle", m.rssKB>>10, base.rssKB>>10)
	}
}

// measure reads the coordinator's goroutine count (from its profiling
// endpoint) and resident memory (from /proc).
func (co *coord) measure(t *testing.T) baseline {
	t.Helper()
	resp, err := http.Get("http://" + co.pprof + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		t.Fatalf("goroutine profile: %v", err)
	}
	defer resp.Body.Close()
	line, _ := bufio.NewReader(resp.Body).ReadString('\n')
	n, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "goroutine profile: total ")))
	if err != nil {
		t.Fatalf("goroutine profile: %q", line)
	}
	kb, err := rssKB(co.pid)
	if err != nil {
		t.Fatal(err)
	}
	return baseline{goroutines: n, rssKB: kb, heapMB: co.heapInUseMB(t)}
}

// heapInUseMB reads HeapInuse from the coordinator's heap profile.
func (co *coord) heapInUseMB(t *testing.T) int64 {
	t.Helper()
	resp, err := http.Get("http://" + co.pprof + "/debug/pprof/heap?debug=1&gc=1")
	if err != nil {
		t.Fatalf("heap profile: %v", err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "# HeapInuse = "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n >> 20
		}
	}
	t.Fatalf("no HeapInuse in the heap profile: %v", sc.Err())
	return 0
}

// rssKB is VmRSS of /proc/PID/status.
func rssKB(pid int) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("no VmRSS for pid %d", pid)
}

// ---- clients ----

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func (co *coord) dsn(addr string) string {
	host, port, _ := net.SplitHostPort(addr)
	return fmt.Sprintf("host=%s port=%s user=%s dbname=postgres sslmode=disable connect_timeout=10", host, port, co.user)
}

func (co *coord) connect(t *testing.T) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(ctxT(t, 30*time.Second), co.dsn(co.addr))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	return conn
}

func who(co *coord, addr string) string {
	if addr == co.addr {
		return "the coordinator"
	}
	return "PostgreSQL"
}

func (co *coord) dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	nc.SetDeadline(time.Now().Add(60 * time.Second))
	t.Cleanup(func() { nc.Close() })
	return nc
}

func startupPacket(user string) []byte {
	b, _ := (&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30,
		Parameters: map[string]string{"user": user, "database": "postgres"}}).Encode(nil)
	return b
}

// rawClient is a session on a raw connection.
type rawClient struct {
	nc     net.Conn
	fe     *pgproto3.Frontend
	pid    uint32
	secret []byte
}

func (co *coord) startup(t *testing.T, addr string) *rawClient {
	t.Helper()
	nc := co.dial(t, addr)
	rc := &rawClient{nc: nc, fe: pgproto3.NewFrontend(nc, nc)}
	if _, err := nc.Write(startupPacket(co.user)); err != nil {
		t.Fatal(err)
	}
	for {
		msg, err := rc.fe.Receive()
		if err != nil {
			t.Fatalf("startup at %s: %v", addr, err)
		}
		switch m := msg.(type) {
		case *pgproto3.BackendKeyData:
			rc.pid, rc.secret = m.ProcessID, append([]byte(nil), m.SecretKey...)
		case *pgproto3.ErrorResponse:
			t.Fatalf("startup at %s: %s %s", addr, m.Code, m.Message)
		case *pgproto3.ReadyForQuery:
			return rc
		}
	}
}

func (rc *rawClient) send(msgs ...pgproto3.FrontendMessage) {
	for _, m := range msgs {
		rc.fe.Send(m)
	}
	rc.fe.Flush()
}

// firstError reads up to ReadyForQuery (or the end of the connection) and
// returns the first error.
func firstError(t *testing.T, rc *rawClient) *pgproto3.ErrorResponse {
	t.Helper()
	var first *pgproto3.ErrorResponse
	for {
		msg, err := rc.fe.Receive()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("no answer: %v", err)
			}
			return first
		}
		switch m := msg.(type) {
		case *pgproto3.ErrorResponse:
			if first == nil {
				e := *m
				first = &e
			}
		case *pgproto3.ReadyForQuery:
			return first
		}
	}
}

// rows reads a result up to ReadyForQuery and returns its rows.
func (rc *rawClient) rows(t *testing.T) [][][]byte {
	t.Helper()
	var rows [][][]byte
	for {
		msg, err := rc.fe.Receive()
		if err != nil {
			t.Fatalf("reading rows: %v", err)
		}
		switch m := msg.(type) {
		case *pgproto3.DataRow:
			row := make([][]byte, len(m.Values))
			for i, v := range m.Values {
				row[i] = append([]byte(nil), v...)
			}
			rows = append(rows, row)
		case *pgproto3.ErrorResponse:
			t.Errorf("error: %s %s", m.Code, m.Message)
		case *pgproto3.ReadyForQuery:
			return rows
		}
	}
}

// wantFatal reads a FATAL error with code and message, then the end of the connection.
func wantFatal(t *testing.T, nc net.Conn, code, msg string) {
	t.Helper()
	fe := pgproto3.NewFrontend(nc, nc)
	m, err := fe.Receive()
	e, ok := m.(*pgproto3.ErrorResponse)
	if err != nil || !ok || e.Severity != "FATAL" || e.Code != code || e.Message != msg {
		t.Errorf("got %+v, %v; want FATAL %s %s", m, err, code, msg)
		return
	}
	wantClosed(t, nc)
}

// wantClosed reads until the server closes the connection.
func wantClosed(t *testing.T, nc net.Conn) {
	t.Helper()
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := io.Copy(io.Discard, nc)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Errorf("the connection stayed open")
	}
	if err != nil && !errors.Is(err, syscall.ECONNRESET) && !(errors.As(err, &ne) && ne.Timeout()) {
		t.Logf("connection ended with %v", err)
	}
}

func errText(e *pgproto3.ErrorResponse) string {
	if e == nil {
		return "no error"
	}
	return e.Severity + " " + e.Code + " " + e.Message
}
