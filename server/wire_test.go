package server

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/xlgo/xlgo/internal/poll"
)

// ---- a fake engine: just enough statements to exercise the wire layer ----

type fakeEngine struct {
	mu       sync.Mutex
	sessions []*fakeSession
}

func (e *fakeEngine) NewSession(ctx context.Context, st Startup) (Session, []ParamStatus, error) {
	if st.Database == "nope" {
		return nil, nil, &pgconn.PgError{Severity: "FATAL", Code: "3D000", Message: `database "nope" does not exist`}
	}
	if st.Database == "boom" {
		return nil, nil, errors.New("engine exploded")
	}
	s := &fakeSession{st: st, txStatus: 'I', running: make(chan struct{}, 1), cancelCh: make(chan struct{}, 1)}
	e.mu.Lock()
	e.sessions = append(e.sessions, s)
	e.mu.Unlock()
	return s, []ParamStatus{
		{"server_version", "15.0 (xlgo)"},
		{"server_encoding", "UTF8"},
		{"client_encoding", "UTF8"},
		{"DateStyle", "ISO, MDY"},
		{"integer_datetimes", "on"},
		{"standard_conforming_strings", "on"},
	}, nil
}

// session returns the session whose application_name is app.
func (e *fakeEngine) session(t *testing.T, app string) *fakeSession {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, s := range e.sessions {
		if s.st.Params["application_name"] == app {
			return s
		}
	}
	t.Fatalf("no session with application_name %q", app)
	return nil
}

func (e *fakeEngine) all() []*fakeSession {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]*fakeSession(nil), e.sessions...)
}

type fakeSession struct {
	st       Startup
	txStatus byte // used by the connection goroutine only

	running  chan struct{} // a "sleep" statement has started
	cancelCh chan struct{}
	cancels  atomic.Int32
	closes   atomic.Int32
	ctxEnded atomic.Bool // a "sleep" ended because its context was cancelled
}

var fakeUniqueViolation = &pgconn.PgError{
	Severity:            "ERROR",
	SeverityUnlocalized: "ERROR",
	Code:                "23505",
	Message:             `duplicate key value violates unique constraint "t_pkey"`,
	Detail:              "Key (id)=(1) already exists.",
	Hint:                "Pick another id.",
	Position:            7,
	InternalPosition:    3,
	InternalQuery:       "select 1",
	Where:               "SQL function f",
	SchemaName:          "public",
	TableName:           "t",
	ColumnName:          "id",
	DataTypeName:        "int4",
	ConstraintName:      "t_pkey",
	File:                "nbtinsert.c",
	Line:                664,
	Routine:             "_bt_check_unique",
}

func int4Field(name string) pgproto3.FieldDescription {
	return pgproto3.FieldDescription{Name: []byte(name), DataTypeOID: 23, DataTypeSize: 4, TypeModifier: -1}
}

func textColumn(name string) pgproto3.FieldDescription {
	return pgproto3.FieldDescription{Name: []byte(name), DataTypeOID: 25, DataTypeSize: -1, TypeModifier: -1}
}

func (s *fakeSession) SimpleQuery(ctx context.Context, sql string, w ResultWriter) error {
	if strings.TrimSpace(sql) == "" {
		return w.EmptyQuery()
	}
	for _, stmt := range strings.Split(sql, ";") {
		stmt = strings.TrimSpace(stmt)
		if stmt == "" {
			continue
		}
		if err := s.run(ctx, stmt, w); err != nil {
			return err
		}
	}
	return nil
}

func (s *fakeSession) run(ctx context.Context, stmt string, w ResultWriter) error {
	word, arg, _ := strings.Cut(stmt, " ")
	switch word {
	case "select":
		if err := w.RowDescription([]pgproto3.FieldDescription{int4Field("?column?")}); err != nil {
			return err
		}
		if err := w.DataRow([][]byte{[]byte(arg)}); err != nil {
			return err
		}
		return w.CommandComplete("SELECT 1")
	case "rows":
		n, _ := strconv.Atoi(arg)
		if err := w.RowDescription([]pgproto3.FieldDescription{int4Field("n"), textColumn("payload")}); err != nil {
			return err
		}
		payload := []byte(strings.Repeat("x", 100))
		for i := range n {
			if err := w.DataRow([][]byte{[]byte(strconv.Itoa(i)), payload}); err != nil {
				return err
			}
		}
		return w.CommandComplete(fmt.Sprintf("SELECT %d", n))
	case "fail":
		return fakeUniqueViolation
	case "oops":
		return errors.New("plain failure")
	case "fatal":
		return &pgconn.PgError{Severity: "FATAL", Code: "57P01", Message: "session ended"}
	case "panic":
		panic("boom")
	case "notice":
		if err := w.Notice(&pgproto3.NoticeResponse{Severity: "NOTICE", SeverityUnlocalized: "NOTICE", Code: "00000", Message: "hello"}); err != nil {
			return err
		}
		return w.CommandComplete("DO")
	case "set":
		name, value, _ := strings.Cut(arg, "=")
		if err := w.ParameterStatus(name, value); err != nil {
			return err
		}
		return w.CommandComplete("SET")
	case "begin":
		s.txStatus = 'T'
		return w.CommandComplete("BEGIN")
	case "commit":
		s.txStatus = 'I'
		return w.CommandComplete("COMMIT")
	case "sleep":
		select {
		case s.running <- struct{}{}:
		default:
		}
		select {
		case <-ctx.Done():
			s.ctxEnded.Store(true)
			return ctx.Err()
		case <-s.cancelCh:
			return &pgconn.PgError{Severity: "ERROR", Code: "57014", Message: "canceling statement due to user request"}
		}
	}
	return &pgconn.PgError{Severity: "ERROR", Code: "42601", Message: fmt.Sprintf("syntax error at or near %q", word), Position: 1}
}

func (s *fakeSession) TxStatus() byte { return s.txStatus }

func (s *fakeSession) Cancel() {
	s.cancels.Add(1)
	select {
	case s.cancelCh <- struct{}{}:
	default:
	}
}

func (s *fakeSession) Close() { s.closes.Add(1) }

// ---- helpers ----

type wireLogWriter struct{ t *testing.T }

func (w wireLogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// startServer starts a server on a free port of 127.0.0.1; edit adjusts its options.
func startWireServer(t *testing.T, edit func(*Options)) (*Server, *fakeEngine) {
	t.Helper()
	eng := &fakeEngine{}
	opts := Options{
		ListenAddrs: []string{"127.0.0.1"},
		Logger:      slog.New(slog.NewTextHandler(wireLogWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if edit != nil {
		edit(&opts)
	}
	srv := NewServer(eng, opts)
	if err := srv.Listen(); err != nil {
		t.Fatalf("Listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return srv, eng
}

func serverPort(srv *Server) int { return srv.Addr().(*net.TCPAddr).Port }

func wireConnConfig(t *testing.T, srv *Server, app string) *pgx.ConnConfig {
	t.Helper()
	cfg, err := pgx.ParseConfig(fmt.Sprintf("host=127.0.0.1 port=%d user=u database=d sslmode=disable connect_timeout=10", serverPort(srv)))
	if err != nil {
		t.Fatal(err)
	}
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	cfg.RuntimeParams["application_name"] = app
	return cfg
}

func wireConnectConfig(t *testing.T, cfg *pgx.ConnConfig) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func wireConnect(t *testing.T, srv *Server, app string) *pgx.Conn {
	t.Helper()
	return wireConnectConfig(t, wireConnConfig(t, srv, app))
}

func wireCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func waitStatementRunning(t *testing.T, s *fakeSession) {
	t.Helper()
	select {
	case <-s.running:
	case <-time.After(10 * time.Second):
		t.Fatal("statement did not start")
	}
}

func wireSelect(t *testing.T, conn *pgx.Conn, n int) {
	t.Helper()
	var got int
	if err := conn.QueryRow(wireCtx(t), fmt.Sprintf("select %d", n)).Scan(&got); err != nil {
		t.Fatalf("select %d: %v", n, err)
	}
	if got != n {
		t.Fatalf("select %d returned %d", n, got)
	}
}

func wantSQLState(t *testing.T, err error, code string) *pgconn.PgError {
	t.Helper()
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		t.Fatalf("want a PgError %s, got %v", code, err)
	}
	if pgErr.Code != code {
		t.Fatalf("want SQLSTATE %s, got %s (%s)", code, pgErr.Code, pgErr.Message)
	}
	return pgErr
}

// rawConn opens a plain TCP connection to srv.
func rawWireConn(t *testing.T, srv *Server) net.Conn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", srv.Addr().String(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { nc.Close() })
	return nc
}

// rawStartup runs the startup exchange on a raw connection and returns its frontend.
func rawWireStartup(t *testing.T, srv *Server, params map[string]string) (net.Conn, *pgproto3.Frontend) {
	t.Helper()
	nc := rawWireConn(t, srv)
	fe := pgproto3.NewFrontend(nc, nc)
	fe.Send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: params})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	for {
		msg, err := fe.Receive()
		if err != nil {
			t.Fatalf("startup: %v", err)
		}
		switch m := msg.(type) {
		case *pgproto3.ReadyForQuery:
			return nc, fe
		case *pgproto3.ErrorResponse:
			t.Fatalf("startup: %s %s", m.Code, m.Message)
		}
	}
}

// receiveAll reads messages up to and including ReadyForQuery and returns
// their Go types in order.
func receiveUntilReady(t *testing.T, fe *pgproto3.Frontend) []string {
	t.Helper()
	var got []string
	for {
		msg, err := fe.Receive()
		if err != nil {
			t.Fatalf("receive after %v: %v", got, err)
		}
		name := fmt.Sprintf("%T", msg)
		if e, ok := msg.(*pgproto3.ErrorResponse); ok {
			name += "(" + e.Code + ")"
		}
		got = append(got, strings.TrimPrefix(name, "*pgproto3."))
		if _, ok := msg.(*pgproto3.ReadyForQuery); ok {
			return got
		}
	}
}

// readFatal reads the server's answer to a bad startup: an ErrorResponse or
// the end of the connection (ok=false).
func readFatalOrClose(t *testing.T, nc net.Conn) (*pgproto3.ErrorResponse, bool) {
	t.Helper()
	fe := pgproto3.NewFrontend(nc, nc)
	msg, err := fe.Receive()
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("server neither answered nor closed: %v", err)
		}
		return nil, false
	}
	e, ok := msg.(*pgproto3.ErrorResponse)
	if !ok {
		t.Fatalf("want ErrorResponse, got %T", msg)
	}
	if e.Severity != "FATAL" {
		t.Errorf("severity %q, want FATAL", e.Severity)
	}
	// After a fatal error the server closes.
	if _, err := fe.Receive(); err == nil {
		t.Errorf("connection still open after FATAL %s", e.Code)
	}
	return e, true
}

func startupPacket(code uint32, rest []byte) []byte {
	b := make([]byte, 8, 8+len(rest))
	binary.BigEndian.PutUint32(b, uint32(8+len(rest)))
	binary.BigEndian.PutUint32(b[4:], code)
	return append(b, rest...)
}

// ---- pgx ----

func TestQueryRowsAndMultipleStatements(t *testing.T) {
	srv, eng := startWireServer(t, nil)
	var notices []string
	var mu sync.Mutex
	cfg := wireConnConfig(t, srv, "a")
	cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) {
		mu.Lock()
		notices = append(notices, n.Message)
		mu.Unlock()
	}
	conn := wireConnectConfig(t, cfg)
	ctx := wireCtx(t)

	if v := conn.PgConn().ParameterStatus("server_version"); v != "15.0 (xlgo)" {
		t.Errorf("server_version = %q", v)
	}
	if conn.PgConn().PID() == 0 {
		t.Error("no BackendKeyData process id")
	}
	wireSelect(t, conn, 42)

	rows, err := conn.Query(ctx, "rows 3")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var n int
		var payload string
		if err := rows.Scan(&n, &payload); err != nil {
			t.Fatal(err)
		}
		got = append(got, strconv.Itoa(n))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "0,1,2" {
		t.Errorf("rows = %v", got)
	}

	results, err := conn.PgConn().Exec(ctx, "select 1; select 2; rows 2; set search_path=x; notice").ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var tags []string
	for _, r := range results {
		tags = append(tags, r.CommandTag.String())
	}
	if want := "SELECT 1,SELECT 1,SELECT 2,SET,DO"; strings.Join(tags, ",") != want {
		t.Errorf("tags = %v, want %s", tags, want)
	}
	if string(results[1].Rows[0][0]) != "2" || len(results[2].Rows) != 2 {
		t.Errorf("results = %+v", results)
	}
	if v := conn.PgConn().ParameterStatus("search_path"); v != "x" {
		t.Errorf("ParameterStatus from a statement not applied: %q", v)
	}
	mu.Lock()
	if len(notices) != 1 || notices[0] != "hello" {
		t.Errorf("notices = %v", notices)
	}
	mu.Unlock()

	// Empty query: EmptyQueryResponse, no error.
	if _, err := conn.PgConn().Exec(ctx, "  ").ReadAll(); err != nil {
		t.Errorf("empty query: %v", err)
	}

	// Transaction status reaches ReadyForQuery.
	if _, err := conn.Exec(ctx, "begin"); err != nil {
		t.Fatal(err)
	}
	if s := conn.PgConn().TxStatus(); s != 'T' {
		t.Errorf("TxStatus after begin = %c", s)
	}
	if _, err := conn.Exec(ctx, "commit"); err != nil {
		t.Fatal(err)
	}
	if s := conn.PgConn().TxStatus(); s != 'I' {
		t.Errorf("TxStatus after commit = %c", s)
	}

	s := eng.session(t, "a")
	if s.st.User != "u" || s.st.Database != "d" || s.st.Params["user"] != "u" {
		t.Errorf("startup = %+v", s.st)
	}
}

func TestLargeResultStreams(t *testing.T) {
	srv, _ := startWireServer(t, nil)
	conn := wireConnect(t, srv, "a")
	const n = 50000 // about 6 MB
	rows, err := conn.Query(wireCtx(t), fmt.Sprintf("rows %d", n))
	if err != nil {
		t.Fatal(err)
	}
	count := 0
	for rows.Next() {
		count++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if count != n {
		t.Fatalf("got %d rows, want %d", count, n)
	}
	wireSelect(t, conn, 1)
}

func TestErrorsReachClient(t *testing.T) {
	srv, _ := startWireServer(t, nil)
	conn := wireConnect(t, srv, "a")
	ctx := wireCtx(t)

	_, err := conn.Exec(ctx, "fail")
	pgErr := wantSQLState(t, err, "23505")
	if *pgErr != *fakeUniqueViolation {
		t.Errorf("error fields changed on the way:\n got %+v\nwant %+v", *pgErr, *fakeUniqueViolation)
	}
	wireSelect(t, conn, 2)

	_, err = conn.Exec(ctx, "oops")
	pgErr = wantSQLState(t, err, "XX000")
	if pgErr.Message != "plain failure" || pgErr.Severity != "ERROR" {
		t.Errorf("plain error = %+v", pgErr)
	}
	wireSelect(t, conn, 3)

	// An error ends the Query message: the statements after it do not run.
	results, err := conn.PgConn().Exec(ctx, "select 1; nonsense; select 2").ReadAll()
	pgErr = wantSQLState(t, err, "42601")
	if pgErr.Position != 1 {
		t.Errorf("position = %d", pgErr.Position)
	}
	if len(results) != 1 || len(results[0].Rows) != 1 {
		t.Errorf("results before the error = %+v", results)
	}
	wireSelect(t, conn, 4)
}

func TestFatalErrorFromSessionClosesConnection(t *testing.T) {
	srv, eng := startWireServer(t, nil)
	conn := wireConnect(t, srv, "a")
	_, err := conn.Exec(wireCtx(t), "fatal")
	pgErr := wantSQLState(t, err, "57P01")
	if pgErr.Severity != "FATAL" {
		t.Errorf("severity = %s", pgErr.Severity)
	}
	s := eng.session(t, "a")
	poll.Until(t, "session close", func() bool { return s.closes.Load() == 1 })
}

func TestNewSessionErrors(t *testing.T) {
	srv, eng := startWireServer(t, nil)
	ctx := wireCtx(t)

	cfg := wireConnConfig(t, srv, "x")
	cfg.Database = "nope"
	_, err := pgx.ConnectConfig(ctx, cfg)
	pgErr := wantSQLState(t, err, "3D000")
	if pgErr.Severity != "FATAL" || pgErr.Message != `database "nope" does not exist` {
		t.Errorf("got %+v", pgErr)
	}

	cfg.Database = "boom"
	_, err = pgx.ConnectConfig(ctx, cfg)
	pgErr = wantSQLState(t, err, "XX000")
	if pgErr.Severity != "FATAL" || pgErr.Message != "engine exploded" {
		t.Errorf("got %+v", pgErr)
	}
	if n := len(eng.all()); n != 0 {
		t.Errorf("%d sessions made", n)
	}
	wireSelect(t, wireConnect(t, srv, "a"), 1)
}

func TestMissingUserAndDefaultDatabase(t *testing.T) {
	srv, eng := startWireServer(t, nil)

	nc := rawWireConn(t, srv)
	fe := pgproto3.NewFrontend(nc, nc)
	fe.Send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: map[string]string{"database": "d"}})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	e, ok := readFatalOrClose(t, nc)
	if !ok || e.Code != "28000" || e.Message != "no PostgreSQL user name specified in startup packet" {
		t.Errorf("got %+v", e)
	}

	rawWireStartup(t, srv, map[string]string{"user": "alice", "application_name": "b"})
	if s := eng.session(t, "b"); s.st.Database != "alice" {
		t.Errorf("database = %q, want the user name", s.st.Database)
	}
}

func TestTerminateClosesSessionOnce(t *testing.T) {
	srv, eng := startWireServer(t, nil)
	conn := wireConnect(t, srv, "a")
	wireSelect(t, conn, 1)
	if err := conn.Close(wireCtx(t)); err != nil {
		t.Fatal(err)
	}
	s := eng.session(t, "a")
	poll.Until(t, "session close", func() bool { return s.closes.Load() == 1 })
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if n := s.closes.Load(); n != 1 {
		t.Errorf("Close called %d times", n)
	}
}

func TestClientVanishesMidQuery(t *testing.T) {
	srv, eng := startWireServer(t, nil)
	// A raw client: pgx would also send a CancelRequest when its socket fails.
	nc, fe := rawWireStartup(t, srv, map[string]string{"user": "u", "application_name": "a"})
	s := eng.session(t, "a")
	fe.Send(&pgproto3.Query{String: "sleep"})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	waitStatementRunning(t, s)
	nc.Close()
	poll.Until(t, "session close", func() bool { return s.closes.Load() == 1 })
	if !s.ctxEnded.Load() {
		t.Errorf("the statement's context was not cancelled (cancels: %d)", s.cancels.Load())
	}
	wireSelect(t, wireConnect(t, srv, "b"), 1)
}

func TestPanicEndsOnlyThatConnection(t *testing.T) {
	srv, eng := startWireServer(t, nil)
	other := wireConnect(t, srv, "other")
	conn := wireConnect(t, srv, "a")
	_, err := conn.Exec(wireCtx(t), "panic")
	pgErr := wantSQLState(t, err, "XX000")
	if pgErr.Severity != "FATAL" || !strings.Contains(pgErr.Message, "boom") {
		t.Errorf("got %+v", pgErr)
	}
	s := eng.session(t, "a")
	poll.Until(t, "session close", func() bool { return s.closes.Load() == 1 })
	wireSelect(t, other, 5)
	wireSelect(t, wireConnect(t, srv, "b"), 6)
}

func TestCancelRequestReachesRightSession(t *testing.T) {
	srv, eng := startWireServer(t, nil)
	a := wireConnect(t, srv, "a")
	b := wireConnect(t, srv, "b")
	sa, sb := eng.session(t, "a"), eng.session(t, "b")
	if a.PgConn().PID() == b.PgConn().PID() {
		t.Fatal("two connections share a process id")
	}

	// A wrong secret key cancels nothing.
	nc := rawWireConn(t, srv)
	secret := append([]byte(nil), a.PgConn().SecretKey()...)
	secret[0] ^= 0xff
	req := make([]byte, 8, 16)
	binary.BigEndian.PutUint32(req, 16)
	binary.BigEndian.PutUint32(req[4:], cancelRequestCode)
	req = binary.BigEndian.AppendUint32(req, a.PgConn().PID())
	req = append(req, secret...)
	if _, err := nc.Write(req); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(nc); err != nil { // the server closes once it has handled it
		t.Fatal(err)
	}
	if sa.cancels.Load() != 0 {
		t.Fatal("a cancel request with a wrong key was obeyed")
	}

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
	if sa.cancels.Load() != 1 || sb.cancels.Load() != 0 {
		t.Errorf("cancels: a=%d b=%d", sa.cancels.Load(), sb.cancels.Load())
	}
	wireSelect(t, a, 1)
	wireSelect(t, b, 2)
}

func TestExtendedProtocolNotSupportedYet(t *testing.T) {
	srv, _ := startWireServer(t, nil)

	// Prepare sends Parse, Describe, Sync.
	conn := wireConnect(t, srv, "a")
	_, err := conn.Prepare(wireCtx(t), "s1", "select 1")
	pgErr := wantSQLState(t, err, "0A000")
	if pgErr.Message != "extended query protocol is not supported yet" {
		t.Errorf("message = %q", pgErr.Message)
	}
	wireSelect(t, conn, 7)

	// A whole extended exchange gets one error, then ReadyForQuery.
	_, fe := rawWireStartup(t, srv, map[string]string{"user": "u"})
	fe.Send(&pgproto3.Parse{Query: "select 1"})
	fe.Send(&pgproto3.Bind{})
	fe.Send(&pgproto3.Describe{ObjectType: 'P'})
	fe.Send(&pgproto3.Execute{})
	fe.Send(&pgproto3.Query{String: "select 1"}) // ignored until Sync, as PostgreSQL does
	fe.Send(&pgproto3.Sync{})
	fe.Send(&pgproto3.Query{String: "select 8"})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(append(receiveUntilReady(t, fe), receiveUntilReady(t, fe)...), " ")
	want := "ErrorResponse(0A000) ReadyForQuery RowDescription DataRow CommandComplete ReadyForQuery"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}

	// A bare Sync just gets ReadyForQuery.
	fe.Send(&pgproto3.Sync{})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(receiveUntilReady(t, fe), " "); got != "ReadyForQuery" {
		t.Errorf("bare Sync: %s", got)
	}
}

func TestInvalidMessageType(t *testing.T) {
	srv, eng := startWireServer(t, nil)
	nc, _ := rawWireStartup(t, srv, map[string]string{"user": "u", "application_name": "a"})
	if _, err := nc.Write([]byte{'z', 0, 0, 0, 4}); err != nil {
		t.Fatal(err)
	}
	e, ok := readFatalOrClose(t, nc)
	if !ok || e.Code != "08P01" || e.Message != "invalid frontend message type 122" {
		t.Errorf("got %+v", e)
	}
	s := eng.session(t, "a")
	poll.Until(t, "session close", func() bool { return s.closes.Load() == 1 })
	wireSelect(t, wireConnect(t, srv, "b"), 1)
}

func TestOversizedMessage(t *testing.T) {
	srv, eng := startWireServer(t, func(o *Options) { o.MaxMessageSize = 1024 })
	conn := wireConnect(t, srv, "a")
	wireSelect(t, conn, 1)
	_, err := conn.Exec(wireCtx(t), "select "+strings.Repeat("1", 2000))
	pgErr := wantSQLState(t, err, "08P01")
	if pgErr.Severity != "FATAL" || pgErr.Message != "invalid message length" {
		t.Errorf("got %+v", pgErr)
	}
	s := eng.session(t, "a")
	poll.Until(t, "session close", func() bool { return s.closes.Load() == 1 })
	wireSelect(t, wireConnect(t, srv, "b"), 1000)
}

// ---- startup packets ----

func TestMalformedStartupPackets(t *testing.T) {
	srv, _ := startWireServer(t, nil)
	rng := rand.New(rand.NewSource(1))
	random := make([]byte, 64)
	rng.Read(random)
	// A random packet with a plausible length, so that the code and the
	// parameters are what is random.
	randomBody := make([]byte, 60)
	rng.Read(randomBody)
	plausible := append(binary.BigEndian.AppendUint32(nil, 64), randomBody...)

	tests := []struct {
		name      string
		send      []byte
		code, msg string // "" code: the server may close without a word
	}{
		{"short length", []byte{0, 0, 0, 4, 0, 3, 0, 0}, "08P01", "invalid length of startup packet"},
		{"negative length", []byte{0xff, 0xff, 0xff, 0xf0, 0, 3, 0, 0}, "08P01", "invalid length of startup packet"},
		{"huge length", append([]byte{0x7f, 0xff, 0xff, 0xff}, make([]byte, 100)...), "08P01", "invalid length of startup packet"},
		{"version 4.0", startupPacket(4<<16, []byte("user\x00u\x00\x00")), "0A000", "unsupported frontend protocol 4.0: server supports 3.0 to 3.0"},
		{"version 2.0", startupPacket(2<<16, []byte("user\x00u\x00\x00")), "0A000", "unsupported frontend protocol 2.0: server supports 3.0 to 3.0"},
		{"version 1234.5681", startupPacket(1234<<16|5681, []byte("user\x00u\x00\x00")), "0A000", "unsupported frontend protocol 1234.5681: server supports 3.0 to 3.0"},
		// 1234.5678 is the CancelRequest code; with the wrong length PostgreSQL closes silently.
		{"version 1234.5678", startupPacket(1234<<16|5678, []byte("user\x00u\x00\x00")), "", ""},
		{"no terminator", startupPacket(3<<16, []byte("user\x00u")), "08P01", "invalid startup packet layout: expected terminator as last byte"},
		{"missing value", startupPacket(3<<16, []byte("user\x00")), "08P01", "invalid startup packet layout: expected terminator as last byte"},
		{"no parameters at all", startupPacket(3<<16, nil), "08P01", "invalid startup packet layout: expected terminator as last byte"},
		{"random bytes", random, "", ""},
		{"random packet", plausible, "", ""},
		{"truncated", []byte{0, 0, 0, 100, 0, 3, 0, 0}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nc := rawWireConn(t, srv)
			if _, err := nc.Write(tt.send); err != nil {
				t.Fatal(err)
			}
			if tt.name == "truncated" {
				nc.(*net.TCPConn).CloseWrite()
			}
			e, ok := readFatalOrClose(t, nc)
			switch {
			case tt.code == "" && ok && e.Code != "08P01" && e.Code != "0A000" && e.Code != "28000":
				t.Errorf("unexpected error %s %s", e.Code, e.Message)
			case tt.code != "" && !ok:
				t.Errorf("closed without an error, want %s", tt.code)
			case tt.code != "" && (e.Code != tt.code || e.Message != tt.msg):
				t.Errorf("got %s %q, want %s %q", e.Code, e.Message, tt.code, tt.msg)
			}
			wireSelect(t, wireConnect(t, srv, "next"), 9)
		})
	}
}

func TestSSLAndGSSRequestsAnsweredN(t *testing.T) {
	srv, _ := startWireServer(t, nil)
	nc := rawWireConn(t, srv)
	readN := func() {
		t.Helper()
		var b [1]byte
		if _, err := io.ReadFull(nc, b[:]); err != nil {
			t.Fatal(err)
		}
		if b[0] != 'N' {
			t.Fatalf("answer %q, want 'N'", b[0])
		}
	}
	nc.Write(startupPacket(sslRequestCode, nil))
	readN()
	nc.Write(startupPacket(gssEncRequestCode, nil))
	readN()
	fe := pgproto3.NewFrontend(nc, nc)
	fe.Send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: map[string]string{"user": "u"}})
	fe.Send(&pgproto3.Query{String: "select 3"})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(append(receiveUntilReady(t, fe), receiveUntilReady(t, fe)...), " ")
	if !strings.HasPrefix(got, "AuthenticationOk ParameterStatus") ||
		!strings.HasSuffix(got, "BackendKeyData ReadyForQuery RowDescription DataRow CommandComplete ReadyForQuery") {
		t.Errorf("got %s", got)
	}

	// A second SSLRequest is not a negotiation any more, as in PostgreSQL.
	nc2 := rawWireConn(t, srv)
	nc2.Write(startupPacket(sslRequestCode, nil))
	var b [1]byte
	if _, err := io.ReadFull(nc2, b[:]); err != nil || b[0] != 'N' {
		t.Fatalf("first SSLRequest: %q %v", b[0], err)
	}
	nc2.Write(startupPacket(sslRequestCode, nil))
	e, ok := readFatalOrClose(t, nc2)
	if !ok || e.Code != "0A000" || e.Message != "unsupported frontend protocol 1234.5679: server supports 3.0 to 3.0" {
		t.Errorf("got %+v", e)
	}
}

func TestNewerMinorVersionNegotiated(t *testing.T) {
	srv, eng := startWireServer(t, nil)
	nc := rawWireConn(t, srv)
	nc.Write(startupPacket(3<<16|2, []byte("user\x00u\x00application_name\x00a\x00_pq_.foo\x00bar\x00\x00")))
	fe := pgproto3.NewFrontend(nc, nc)
	msg, err := fe.Receive()
	if err != nil {
		t.Fatal(err)
	}
	npv, ok := msg.(*pgproto3.NegotiateProtocolVersion)
	if !ok || npv.NewestMinorProtocol != 0 || len(npv.UnrecognizedOptions) != 1 || npv.UnrecognizedOptions[0] != "_pq_.foo" {
		t.Fatalf("got %#v", msg)
	}
	receiveUntilReady(t, fe)
	if _, ok := eng.session(t, "a").st.Params["_pq_.foo"]; ok {
		t.Error("protocol option passed on as a parameter")
	}
}

func TestStartupTimeout(t *testing.T) {
	srv, eng := startWireServer(t, func(o *Options) { o.StartupTimeout = 200 * time.Millisecond })
	nc := rawWireConn(t, srv) // sends nothing
	start := time.Now()
	var b [1]byte
	_, err := nc.Read(b[:])
	if err == nil {
		t.Fatal("server sent something to a silent client")
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("server kept a silent connection open for %v", time.Since(start))
	}
	if len(eng.all()) != 0 {
		t.Error("a session was made")
	}
	wireSelect(t, wireConnect(t, srv, "a"), 1)
}

// ---- listening and closing ----

func TestListenErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	srv := NewServer(&fakeEngine{}, Options{ListenAddrs: []string{"127.0.0.1"}, Port: ln.Addr().(*net.TCPAddr).Port})
	err = srv.Listen()
	if err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Errorf("Listen on a taken port: %v", err)
	}
	srv.Close()

	if err := NewServer(&fakeEngine{}, Options{}).Listen(); err == nil {
		t.Error("Listen with nothing to listen on succeeded")
	}
}

func shortSocketDir(t *testing.T) string {
	t.Helper()
	// Short, because a socket path is limited to about 100 bytes.
	dir, err := os.MkdirTemp("", "xlgo")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func TestUnixSocket(t *testing.T) {
	dir := shortSocketDir(t)
	srv, eng := startWireServer(t, func(o *Options) { o.UnixSocketDir = dir })
	path := SocketPath(dir, serverPort(srv))
	if srv.UnixSocketPath() != path {
		t.Fatalf("socket %q, want %q", srv.UnixSocketPath(), path)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o777 {
		t.Errorf("socket mode %v", fi.Mode())
	}

	cfg, err := pgx.ParseConfig(fmt.Sprintf("host=%s port=%d user=u database=d application_name=unix", dir, serverPort(srv)))
	if err != nil {
		t.Fatal(err)
	}
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	conn := wireConnectConfig(t, cfg)
	wireSelect(t, conn, 11)
	_ = eng.session(t, "unix")

	// A second server on the same socket is refused while the first is live.
	srv2 := NewServer(&fakeEngine{}, Options{UnixSocketDir: dir, Port: serverPort(srv)})
	if err := srv2.Listen(); err == nil || !strings.Contains(err.Error(), "already running") {
		t.Errorf("second server on a live socket: %v", err)
	}
	srv2.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the refused server removed the live socket: %v", err)
	}

	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("socket file left after Close: %v", err)
	}
}

func TestStaleUnixSocketReplaced(t *testing.T) {
	dir := shortSocketDir(t)
	// Find a free port, then leave a socket file nobody answers on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	ul, err := net.ListenUnix("unix", &net.UnixAddr{Name: SocketPath(dir, p), Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ul.SetUnlinkOnClose(false)
	ul.Close()

	srv, _ := startWireServer(t, func(o *Options) { o.UnixSocketDir = dir; o.Port = p })
	nc, err := net.Dial("unix", SocketPath(dir, p))
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	nc.Close()
	wireSelect(t, wireConnect(t, srv, "a"), 1)
}

func TestCloseEndsConnections(t *testing.T) {
	dir := shortSocketDir(t)
	srv, eng := startWireServer(t, func(o *Options) { o.UnixSocketDir = dir })
	idle := wireConnect(t, srv, "idle")
	busy := wireConnect(t, srv, "busy")
	sb := eng.session(t, "busy")
	done := make(chan error, 1)
	go func() {
		_, err := busy.Exec(context.Background(), "sleep")
		done <- err
	}()
	waitStatementRunning(t, sb)
	// A client still in its startup is not waited for either.
	rawWireConn(t, srv)

	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err == nil {
		t.Error("query survived Close")
	}
	for _, s := range eng.all() {
		if n := s.closes.Load(); n != 1 {
			t.Errorf("session %s closed %d times", s.st.Params["application_name"], n)
		}
	}
	if !sb.ctxEnded.Load() {
		t.Error("running statement's context not cancelled")
	}
	if _, err := idle.Exec(wireCtx(t), "select 1"); err == nil {
		t.Error("idle connection survived Close")
	}
	if _, err := net.DialTimeout("tcp", srv.Addr().String(), time.Second); err == nil {
		t.Error("still accepting after Close")
	}
	if _, err := os.Stat(SocketPath(dir, serverPort(srv))); !os.IsNotExist(err) {
		t.Errorf("socket file after Close: %v", err)
	}
}

func TestStartupTerminate(t *testing.T) {
	srv, eng := startWireServer(t, nil)
	other := wireConnect(t, srv, "other")
	idle := wireConnect(t, srv, "idle")
	busy := wireConnect(t, srv, "busy")
	si, sb := eng.session(t, "idle"), eng.session(t, "busy")
	done := make(chan error, 1)
	go func() {
		_, err := busy.Exec(context.Background(), "sleep")
		done <- err
	}()
	waitStatementRunning(t, sb)

	// An idle client hears FATAL 57P01 at its next read.
	si.st.Terminate()
	poll.Until(t, "idle session close", func() bool { return si.closes.Load() == 1 })
	_, err := idle.Exec(wireCtx(t), "select 1")
	if pgErr := wantSQLState(t, err, "57P01"); pgErr.Severity != "FATAL" {
		t.Errorf("idle client got %+v", pgErr)
	}
	// A running statement stops (its context ends) and its client hears the same.
	sb.st.Terminate()
	if pgErr := wantSQLState(t, <-done, "57P01"); pgErr.Severity != "FATAL" {
		t.Errorf("busy client got %+v", pgErr)
	}
	poll.Until(t, "busy session close", func() bool { return sb.closes.Load() == 1 })
	if !sb.ctxEnded.Load() {
		t.Error("the running statement's context was not cancelled")
	}
	wireSelect(t, other, 7)
}

func TestServeStopsWithContext(t *testing.T) {
	srv := NewServer(&fakeEngine{}, Options{ListenAddrs: []string{"127.0.0.1"}, Logger: slog.New(slog.DiscardHandler)})
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()
	poll.Until(t, "listening", func() bool { return srv.Addr() != nil })
	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after its context ended")
	}
}

func TestDefaultSocketDir(t *testing.T) {
	dir := DefaultSocketDir()
	if fi, err := os.Stat("/var/run/postgresql"); err == nil && fi.IsDir() {
		if dir != "/var/run/postgresql" {
			t.Errorf("got %s", dir)
		}
	} else if dir != "/tmp" {
		t.Errorf("got %s", dir)
	}
}

// ---- psql ----

func psqlBinary(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("psql"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/bin/psql"); err == nil {
		return "/usr/bin/psql"
	}
	t.Fatal("psql is not installed (apt-get install postgresql-client)")
	return ""
}

func runPsqlCmd(t *testing.T, sslmode string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, psqlBinary(t), append([]string{"-X"}, args...)...)
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + t.TempDir(),
		"PGCONNECT_TIMEOUT=10",
		"PGSSLMODE=" + sslmode,
		"LC_ALL=C",
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestPsql(t *testing.T) {
	dir := shortSocketDir(t)
	srv, _ := startWireServer(t, func(o *Options) { o.UnixSocketDir = dir })
	p := strconv.Itoa(serverPort(srv))

	for _, host := range []string{"127.0.0.1", dir} {
		out, err := runPsqlCmd(t, "prefer", "-h", host, "-p", p, "-U", "u", "-d", "d", "-c", "select 1")
		if err != nil {
			t.Fatalf("psql -h %s: %v\n%s", host, err, out)
		}
		if !strings.Contains(out, "(1 row)") {
			t.Errorf("psql -h %s output:\n%s", host, out)
		}
	}

	out, err := runPsqlCmd(t, "disable", "-h", "127.0.0.1", "-p", p, "-U", "u", "-d", "d", "-c", "fail")
	if err == nil || !strings.Contains(out, `duplicate key value violates unique constraint "t_pkey"`) ||
		!strings.Contains(out, "DETAIL:  Key (id)=(1) already exists.") {
		t.Errorf("psql error output (%v):\n%s", err, out)
	}

	out, err = runPsqlCmd(t, "require", "-h", "127.0.0.1", "-p", p, "-U", "u", "-d", "d", "-c", "select 1")
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) || exitErr.ExitCode() != 2 || !strings.Contains(out, "server does not support SSL") {
		t.Errorf("sslmode=require: %v\n%s", err, out)
	}

	// psql's multi-statement -c goes as one Query message.
	out, err = runPsqlCmd(t, "disable", "-h", filepath.Clean(dir), "-p", p, "-U", "u", "-At", "-c", "select 5; select 6")
	if err != nil || strings.TrimSpace(out) != "5\n6" {
		t.Errorf("multi-statement: %v\n%q", err, out)
	}
}
