package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/xlgo/xlgo/internal/poll"
)

// Clients that push the server's limits, against the fake engine: each gets
// a clear error and nothing else is disturbed.

func TestTooManyClients(t *testing.T) {
	srv, eng := startWireServer(t, func(o *Options) { o.MaxConnections = 3 })
	a := wireConnect(t, srv, "a")
	wireConnect(t, srv, "b")
	wireConnect(t, srv, "c")

	// One more: PostgreSQL's answer after its startup packet.
	_, err := pgx.ConnectConfig(wireCtx(t), wireConnConfig(t, srv, "d"))
	pgErr := wantSQLState(t, err, "53300")
	if pgErr.Severity != "FATAL" || pgErr.Message != "sorry, too many clients already" {
		t.Errorf("got %+v", pgErr)
	}

	// A cancel request still reaches a session when the server is full.
	sa := eng.session(t, "a")
	done := make(chan error, 1)
	go func() {
		_, err := a.Exec(context.Background(), "sleep")
		done <- err
	}()
	waitStatementRunning(t, sa)
	if err := a.PgConn().CancelRequest(wireCtx(t)); err != nil {
		t.Fatal(err)
	}
	wantSQLState(t, <-done, "57014")

	// As many again may wait for their startup packet to be refused; past
	// that, a connection is refused before it says anything.
	for range 3 {
		rawWireConn(t, srv)
	}
	poll.Until(t, "six connections", func() bool { return srv.ConnCount() == 6 })
	nc := rawWireConn(t, srv)
	e, ok := readFatalOrClose(t, nc)
	if !ok || e.Code != "53300" {
		t.Fatalf("connection past the refusing ones: %+v", e)
	}

	// A session that ends frees its place.
	if err := a.Close(wireCtx(t)); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "a place", func() bool {
		conn, err := pgx.ConnectConfig(wireCtx(t), wireConnConfig(t, srv, "e"))
		if err != nil {
			return false
		}
		conn.Close(context.Background())
		return true
	})
}

// heapInUse is the memory the Go heap holds now, after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// A client that announces a long message and sends a little of it has the
// server hold what it sent, not what it announced.
func TestAnnouncedLengthIsNotHeld(t *testing.T) {
	srv, _ := startWireServer(t, nil) // messages up to 1 GB, as PostgreSQL
	before := heapInUse()
	var conns []net.Conn
	for range 20 {
		nc, _ := rawWireStartup(t, srv, map[string]string{"user": "u"})
		hdr := []byte{'Q', 0x3f, 0xff, 0xff, 0xf0}
		if _, err := nc.Write(append(hdr, "select 1"...)); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, nc)
	}
	// The server has read what came.
	time.Sleep(100 * time.Millisecond)
	if grown := int64(heapInUse()) - int64(before); grown > 64<<20 {
		t.Errorf("20 clients that announced 1 GB messages and sent 8 bytes each grew the heap by %d MB", grown>>20)
	}
	wireSelect(t, wireConnect(t, srv, "other"), 5)
	for _, nc := range conns {
		nc.Close()
	}
	poll.Until(t, "connections closed", func() bool { return srv.ConnCount() <= 1 })
}

// Messages that arrive a byte at a time, or many in one write, are read whole.
func TestMessagesInPieces(t *testing.T) {
	srv, _ := startWireServer(t, nil)
	nc, fe := rawWireStartup(t, srv, map[string]string{"user": "u"})
	var stream []byte
	for i := range 50 {
		stream, _ = (&pgproto3.Query{String: "select " + strings.Repeat("7", i+1)}).Encode(stream)
	}
	for i := 0; i < len(stream); {
		n := min(1+i%7, len(stream)-i)
		if _, err := nc.Write(stream[i : i+n]); err != nil {
			t.Fatal(err)
		}
		i += n
	}
	for i := range 50 {
		got := receiveUntilReady(t, fe)
		if strings.Join(got, " ") != "RowDescription DataRow CommandComplete ReadyForQuery" {
			t.Fatalf("query %d: %v", i, got)
		}
	}
}

// A bad length inside COPY data: the stream is out of frame, so the
// connection ends with FATAL 08P01 rather than reading on.
func TestBadLengthInCopyEndsConnection(t *testing.T) {
	srv := startFuzzEngineServer(t)
	for _, tail := range [][]byte{{'d', 0, 0, 0, 3}, {'d', 0xff, 0xff, 0xff, 0xff}, {'d', 0x7f, 0xff, 0xff, 0xff}} {
		nc := rawWireConn(t, srv)
		stream := append(fuzzStartup("u"), encodeFrontend(&pgproto3.Query{String: "copy in"})...)
		// What follows the bad length would be a query if read on.
		stream = append(append(stream, tail...), encodeFrontend(&pgproto3.Query{String: "select 1"})...)
		if _, err := nc.Write(stream); err != nil {
			t.Fatal(err)
		}
		out, _ := io.ReadAll(nc)
		if err := checkServerStream(out, 0); err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(out, []byte("SFATAL\x00VFATAL\x00C08P01")) || bytes.Contains(out, []byte("SELECT 1")) {
			t.Errorf("after %x in COPY: %q", tail, out)
		}
	}
	wireSelect(t, wireConnect(t, srv, "next"), 2)
}

// A Bind whose text parameter is not UTF-8 is refused as PostgreSQL refuses it.
func TestBindTextParameterNotUTF8(t *testing.T) {
	srv := startFuzzEngineServer(t)
	_, fe := rawWireStartup(t, srv, map[string]string{"user": "u"})
	fe.Send(&pgproto3.Parse{Name: "s", Query: "select 1"})
	fe.Send(&pgproto3.Bind{PreparedStatement: "s", Parameters: [][]byte{[]byte("ok"), []byte("a\xffb")}})
	fe.Send(&pgproto3.Execute{})
	fe.Send(&pgproto3.Sync{})
	fe.Send(&pgproto3.Bind{PreparedStatement: "s", ParameterFormatCodes: []int16{1}, Parameters: [][]byte{[]byte("\xff")}})
	fe.Send(&pgproto3.Sync{})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	var got []string
	for range 2 {
		got = append(got, receiveUntilReady(t, fe)...)
	}
	if want := "ParseComplete ErrorResponse(22021) ReadyForQuery BindComplete ReadyForQuery"; strings.Join(got, " ") != want {
		t.Errorf("got  %s\nwant %s", strings.Join(got, " "), want)
	}
}

// A client that pipelines a lot while its statement runs is read ahead only
// so far; every message is still answered, in order, once it ends.
func TestPipelinedWhileStatementRuns(t *testing.T) {
	srv, eng := startWireServer(t, nil)
	nc, fe := rawWireStartup(t, srv, map[string]string{"user": "u", "application_name": "a"})
	nc.SetDeadline(time.Now().Add(60 * time.Second))
	s := eng.session(t, "a")
	fe.Send(&pgproto3.Query{String: "sleep"})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	waitStatementRunning(t, s)
	time.Sleep(2 * longWork) // the watcher reads ahead now
	const n = 40000          // about 3 MB of queries, more than the read-ahead bound
	q, _ := (&pgproto3.Query{String: "select 42 " + strings.Repeat(" ", 60)}).Encode(nil)
	wrote := make(chan error, 1)
	go func() {
		_, err := nc.Write(bytes.Repeat(q, n))
		wrote <- err
	}()
	poll.Until(t, "read-ahead bound reached", func() bool {
		c := anyConn(srv)
		c.in.mu.Lock()
		defer c.in.mu.Unlock()
		return len(c.in.ahead) >= maxReadAhead
	})
	s.Cancel()
	got := receiveUntilReady(t, fe)
	if strings.Join(got, " ") != "ErrorResponse(57014) ReadyForQuery" {
		t.Fatalf("sleep: %v", got)
	}
	for i := range n {
		msg := receiveUntilReady(t, fe)
		if len(msg) != 4 {
			t.Fatalf("query %d: %v", i, msg)
		}
	}
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
}

func anyConn(srv *Server) *clientConn {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	for c := range srv.conns {
		return c
	}
	return nil
}

// A client that sends its startup packet a byte at a time, too slowly, is
// cut off at the startup timeout; others are served meanwhile.
func TestSlowStartupCutOff(t *testing.T) {
	srv, eng := startWireServer(t, func(o *Options) { o.StartupTimeout = 500 * time.Millisecond })
	nc := rawWireConn(t, srv)
	pkt := fuzzStartup("slow")
	start := time.Now()
	var err error
	for i := 0; i < len(pkt) && err == nil; i++ {
		wireSelect(t, wireConnect(t, srv, "other"), i)
		_, err = nc.Write(pkt[i : i+1])
		time.Sleep(50 * time.Millisecond)
	}
	// The server has closed: a write or the read after it fails.
	var b [1]byte
	if err == nil {
		nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = nc.Read(b[:])
	}
	var ne net.Error
	if err == nil || errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("a client sending its startup packet a byte per 50 ms was still served after %v: %v", time.Since(start), err)
	}
	for _, s := range eng.all() {
		if s.st.User == "slow" {
			t.Error("a session was made for it")
		}
	}
	wireSelect(t, wireConnect(t, srv, "after"), 1)
}

// A negative or short length, or one past the limit, in a message once the
// session runs: FATAL 08P01 and the connection ends; others go on.
func TestBadMessageLengths(t *testing.T) {
	srv, _ := startWireServer(t, func(o *Options) { o.MaxMessageSize = 1 << 20 })
	other := wireConnect(t, srv, "other")
	for _, hdr := range [][]byte{
		{'Q', 0xff, 0xff, 0xff, 0xff}, {'Q', 0x80, 0, 0, 0}, {'Q', 0, 0, 0, 3}, {'Q', 0, 0x10, 0, 1}, {'Q', 0x7f, 0xff, 0xff, 0xff},
	} {
		nc, _ := rawWireStartup(t, srv, map[string]string{"user": "u"})
		if _, err := nc.Write(hdr); err != nil {
			t.Fatal(err)
		}
		e, ok := readFatalOrClose(t, nc)
		if !ok || e.Code != "08P01" || e.Message != "invalid message length" {
			t.Errorf("length %x: %+v", hdr[1:], e)
		}
		wireSelect(t, other, 3)
	}
	// A message cut short, then the client goes: the connection just ends.
	nc, _ := rawWireStartup(t, srv, map[string]string{"user": "u"})
	nc.Write([]byte{'Q', 0, 0, 0, 100, 's', 'e', 'l'})
	nc.(*net.TCPConn).CloseWrite()
	if _, ok := readFatalOrClose(t, nc); ok {
		t.Error("an error sent to a client that went away mid-message")
	}
	wireSelect(t, other, 4)
}

// startFuzzEngineServer is startWireServer with the engine of the fuzz
// target, which has COPY and the extended protocol.
func startFuzzEngineServer(t *testing.T) *Server {
	t.Helper()
	srv := NewServer(&fuzzEngine{}, Options{ListenAddrs: []string{"127.0.0.1"},
		Logger: slog.New(slog.NewTextHandler(wireLogWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err := srv.Listen(); err != nil {
		t.Fatalf("Listen: %v", err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(context.Background()) }()
	t.Cleanup(func() {
		srv.Close()
		<-served
	})
	return srv
}
