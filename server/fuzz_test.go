package server

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/xlgo/xlgo/auth"
	"github.com/xlgo/xlgo/pgerr"
)

// The front end under fuzzing: arbitrary bytes as a client's stream, from
// its first byte (startup packet, SSLRequest, CancelRequest) or after a
// prefix that brings the connection to a given state (a session, a password
// exchange, COPY FROM STDIN), against the real connection handling and a
// fake engine. Whatever the bytes, the server must not panic, must not hang
// (the connection ends before a deadline once the client has sent its last
// byte), must send only well-formed messages with nothing after a FATAL
// error, and must leave other connections working and no goroutine behind.

// Prefixes of a fuzzed stream, by the mode byte of the input.
const (
	modeRaw        = iota // the bytes are the whole stream
	modeSession           // a trusted session is running
	modeSSL               // SSLRequest ('N'), then a session
	modeCopyIn            // a session in COPY FROM STDIN (text)
	modePassword          // a password exchange (the password method)
	modeMD5               // an md5 exchange
	modeSCRAM             // a SCRAM exchange
	modeCopyBinary        // a session in COPY FROM STDIN (binary)
	fuzzModes
)

const fuzzHBA = `
host all pw    127.0.0.1/32 password
host all md5u  127.0.0.1/32 md5
host all scram 127.0.0.1/32 scram-sha-256
host all all   127.0.0.1/32 trust
`

// fuzzEngine makes fuzzSessions.
type fuzzEngine struct{ fakeEngine }

func (e *fuzzEngine) NewSession(ctx context.Context, st Startup) (Session, []ParamStatus, error) {
	s, ps, err := e.fakeEngine.NewSession(ctx, st)
	if err != nil {
		return nil, nil, err
	}
	e.mu.Lock()
	e.sessions = nil // the fuzz keeps no history of sessions
	e.mu.Unlock()
	return &fuzzSession{fakeSession: s.(*fakeSession), stmts: map[string]string{}, portals: map[string]string{}}, ps, nil
}

// fuzzSession is the fake session with COPY and the extended protocol, and
// without the statements that fail on purpose as internal errors.
type fuzzSession struct {
	*fakeSession
	stmts   map[string]string
	portals map[string]string
}

func (s *fuzzSession) SimpleQuery(ctx context.Context, sql string, w ResultWriter) error {
	if strings.TrimSpace(sql) == "" {
		return w.EmptyQuery()
	}
	for _, stmt := range strings.Split(sql, ";") {
		if stmt = strings.TrimSpace(stmt); stmt != "" {
			if err := s.exec(ctx, stmt, w); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *fuzzSession) exec(ctx context.Context, stmt string, w ResultWriter) error {
	word, arg, _ := strings.Cut(stmt, " ")
	switch word {
	case "copy":
		return s.copy(arg, w)
	case "rows":
		if n, _ := strconv.Atoi(arg); n < 0 || n > 100 {
			arg = "100"
		}
	case "oops", "panic":
		word = "nonsense"
	case "rollback":
		s.txStatus = 'I'
		return w.CommandComplete("ROLLBACK")
	}
	return s.run(ctx, word+" "+arg, w)
}

func (s *fuzzSession) copy(arg string, w ResultWriter) error {
	switch arg {
	case "in", "bin in":
		format := byte(0)
		if arg == "bin in" {
			format = 1
		}
		if err := w.CopyInResponse(format, []uint16{uint16(format)}); err != nil {
			return err
		}
		n := 0
		for {
			data, err := w.ReceiveCopyData()
			if err == io.EOF {
				return w.CommandComplete(fmt.Sprintf("COPY %d", n))
			}
			if err != nil {
				return err
			}
			n += bytes.Count(data, []byte{'\n'})
		}
	case "out":
		if err := w.CopyOutResponse(0, []uint16{0}); err != nil {
			return err
		}
		for _, line := range []string{"1\n", "2\n"} {
			if err := w.CopyData([]byte(line)); err != nil {
				return err
			}
		}
		if err := w.CopyDone(); err != nil {
			return err
		}
		return w.CommandComplete("COPY 2")
	}
	return &pgconn.PgError{Severity: "ERROR", Code: "42601", Message: "syntax error at or near \"copy\"", Position: 1}
}

func (s *fuzzSession) Parse(_ context.Context, name, sql string, _ []uint32) error {
	if _, ok := s.stmts[name]; ok && name != "" {
		return &pgconn.PgError{Severity: "ERROR", Code: "42P05", Message: fmt.Sprintf("prepared statement %q already exists", name)}
	}
	s.stmts[name] = sql
	return nil
}

func (s *fuzzSession) Bind(_ context.Context, portal, stmt string, formats []int16, params [][]byte, _ []int16) error {
	sql, ok := s.stmts[stmt]
	if !ok {
		return &pgconn.PgError{Severity: "ERROR", Code: "26000", Message: fmt.Sprintf("prepared statement %q does not exist", stmt)}
	}
	if len(formats) > 1 && len(formats) != len(params) {
		return &pgconn.PgError{Severity: "ERROR", Code: pgerr.ProtocolViolation,
			Message: fmt.Sprintf("bind message has %d parameter formats but %d parameters", len(formats), len(params))}
	}
	s.portals[portal] = sql
	return nil
}

func fuzzFields(sql string) []pgproto3.FieldDescription {
	switch word, _, _ := strings.Cut(strings.TrimSpace(sql), " "); word {
	case "select":
		return []pgproto3.FieldDescription{int4Field("?column?")}
	case "rows":
		return []pgproto3.FieldDescription{int4Field("n"), textColumn("payload")}
	}
	return nil
}

func (s *fuzzSession) DescribeStatement(_ context.Context, name string) ([]uint32, []pgproto3.FieldDescription, error) {
	sql, ok := s.stmts[name]
	if !ok {
		return nil, nil, &pgconn.PgError{Severity: "ERROR", Code: "26000", Message: fmt.Sprintf("prepared statement %q does not exist", name)}
	}
	return nil, fuzzFields(sql), nil
}

func (s *fuzzSession) DescribePortal(_ context.Context, name string) ([]pgproto3.FieldDescription, error) {
	sql, ok := s.portals[name]
	if !ok {
		return nil, &pgconn.PgError{Severity: "ERROR", Code: "34000", Message: fmt.Sprintf("portal %q does not exist", name)}
	}
	return fuzzFields(sql), nil
}

func (s *fuzzSession) Execute(ctx context.Context, portal string, _ uint32, w ResultWriter) (bool, error) {
	sql, ok := s.portals[portal]
	if !ok {
		return false, &pgconn.PgError{Severity: "ERROR", Code: "34000", Message: fmt.Sprintf("portal %q does not exist", portal)}
	}
	if strings.TrimSpace(sql) == "" {
		return false, w.EmptyQuery()
	}
	return false, s.exec(ctx, strings.TrimSpace(sql), w)
}

func (s *fuzzSession) CloseObject(_ context.Context, kind byte, name string) error {
	if kind == 'S' {
		delete(s.stmts, name)
	} else {
		delete(s.portals, name)
	}
	return nil
}

func (s *fuzzSession) Sync(context.Context) error {
	delete(s.portals, "")
	return nil
}

// errorLog records the server's Error-level log lines: it logs at that
// level only for a panic it recovered from.
type errorLog struct {
	mu    sync.Mutex
	lines []string
}

func (h *errorLog) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelError }
func (h *errorLog) WithAttrs([]slog.Attr) slog.Handler           { return h }
func (h *errorLog) WithGroup(string) slog.Handler                { return h }
func (h *errorLog) Handle(_ context.Context, r slog.Record) error {
	line := r.Message
	r.Attrs(func(a slog.Attr) bool {
		line += " " + a.String()
		return true
	})
	h.mu.Lock()
	h.lines = append(h.lines, line)
	h.mu.Unlock()
	return nil
}

func (h *errorLog) take() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	l := h.lines
	h.lines = nil
	return l
}

// fuzzServer is one server for every input of a fuzzing process.
type fuzzServer struct {
	srv     *Server
	log     *errorLog
	witness net.Conn // a session that must keep working
	wfe     *pgproto3.Frontend
}

func startFuzzServer(f *testing.F) *fuzzServer {
	hba, err := auth.ParseHBA(fuzzHBA)
	if err != nil {
		f.Fatal(err)
	}
	fs := &fuzzServer{log: &errorLog{}}
	fs.srv = NewServer(&fuzzEngine{}, Options{
		ListenAddrs:    []string{"127.0.0.1"},
		Logger:         slog.New(fs.log),
		MaxMessageSize: 64 << 10,
		StartupTimeout: 5 * time.Second,
		HBA:            hba,
		Passwords: UserlistSource{Users: auth.Userlist{
			"pw":    "clear",
			"md5u":  auth.MD5Hash("m5pw", "md5u"),
			"scram": auth.MakeSCRAMVerifier("s3cret"),
		}},
	})
	if err := fs.srv.Listen(); err != nil {
		f.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- fs.srv.Serve(context.Background()) }()
	f.Cleanup(func() {
		fs.srv.Close()
		<-served
	})

	fs.witness, err = net.DialTimeout("tcp", fs.srv.Addr().String(), 10*time.Second)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { fs.witness.Close() })
	fs.wfe = pgproto3.NewFrontend(fs.witness, fs.witness)
	fs.wfe.Send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: map[string]string{"user": "u"}})
	if err := fs.wfe.Flush(); err != nil {
		f.Fatal(err)
	}
	if err := fs.witnessReady(); err != nil {
		f.Fatal(err)
	}
	return fs
}

func (fs *fuzzServer) witnessReady() error {
	fs.witness.SetDeadline(time.Now().Add(10 * time.Second))
	defer fs.witness.SetDeadline(time.Time{})
	for {
		msg, err := fs.wfe.Receive()
		if err != nil {
			return err
		}
		switch m := msg.(type) {
		case *pgproto3.ErrorResponse:
			return fmt.Errorf("witness: %s %s", m.Code, m.Message)
		case *pgproto3.ReadyForQuery:
			return nil
		}
	}
}

// witnessWorks runs a query on the witness connection.
func (fs *fuzzServer) witnessWorks() error {
	fs.wfe.Send(&pgproto3.Query{String: "select 1"})
	if err := fs.wfe.Flush(); err != nil {
		return err
	}
	return fs.witnessReady()
}

func (fs *fuzzServer) connCount() int {
	fs.srv.mu.Lock()
	defer fs.srv.mu.Unlock()
	return len(fs.srv.conns)
}

func encodeFrontend(msgs ...pgproto3.FrontendMessage) []byte {
	var b []byte
	for _, m := range msgs {
		var err error
		if b, err = m.Encode(b); err != nil {
			panic(err)
		}
	}
	return b
}

func fuzzStartup(user string) []byte {
	return encodeFrontend(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30,
		Parameters: map[string]string{"user": user, "database": "d"}})
}

// fuzzStream is the client's whole stream for an input, and how many
// one-byte answers (to SSLRequest and GSSENCRequest) come before the
// server's first message.
func fuzzStream(mode byte, data []byte) ([]byte, int) {
	switch mode % fuzzModes {
	case modeSession:
		return append(fuzzStartup("u"), data...), 0
	case modeSSL:
		return append(append(startupPacket(sslRequestCode, nil), fuzzStartup("u")...), data...), 1
	case modeCopyIn:
		return append(append(fuzzStartup("u"), encodeFrontend(&pgproto3.Query{String: "copy in"})...), data...), 0
	case modeCopyBinary:
		return append(append(fuzzStartup("u"), encodeFrontend(&pgproto3.Query{String: "copy bin in"})...), data...), 0
	case modePassword:
		return append(fuzzStartup("pw"), data...), 0
	case modeMD5:
		return append(fuzzStartup("md5u"), data...), 0
	case modeSCRAM:
		return append(fuzzStartup("scram"), data...), 0
	}
	return data, oneByteAnswers(data)
}

// oneByteAnswers counts the 'N' answers the server gives to the SSLRequest
// and GSSENCRequest packets at the start of a raw stream, as startup does.
func oneByteAnswers(b []byte) int {
	n := 0
	ssl, gss := false, false
	for len(b) >= 8 {
		l := int64(int32(binary.BigEndian.Uint32(b)))
		if l < 8 || l > maxStartupPacketLen+4 || int64(len(b)) < l {
			return n
		}
		switch code := binary.BigEndian.Uint32(b[4:]); {
		case code == sslRequestCode && !ssl:
			ssl = true
		case code == gssEncRequestCode && !gss:
			gss = true
		default:
			return n
		}
		n++
		b = b[l:]
	}
	return n
}

// checkServerStream decodes what the server sent: one-byte answers, then
// whole backend messages, none after a FATAL error and no internal error.
func checkServerStream(out []byte, answers int) error {
	for i := 0; i < answers; i++ {
		if len(out) == 0 {
			return nil // closed before answering: the stream ended
		}
		if out[0] != 'N' {
			return fmt.Errorf("answer %d to SSLRequest/GSSENCRequest is %q, want 'N'", i, out[0])
		}
		out = out[1:]
	}
	// The framing first: whole messages up to the end of the stream.
	count := 0
	for rest := out; len(rest) > 0; count++ {
		if len(rest) < 5 {
			return fmt.Errorf("stream ends inside the header of message %d", count)
		}
		l := int64(int32(binary.BigEndian.Uint32(rest[1:])))
		if l < 4 || l+1 > int64(len(rest)) {
			return fmt.Errorf("message %d (%q) has length %d with %d bytes left", count, rest[0], l, len(rest)-1)
		}
		rest = rest[l+1:]
	}
	fe := pgproto3.NewFrontend(bytes.NewReader(out), io.Discard)
	fatal := false
	for n := 0; n < count; n++ {
		msg, err := fe.Receive()
		if err != nil {
			return fmt.Errorf("server message %d does not decode: %v", n, err)
		}
		if fatal {
			return fmt.Errorf("server sent %T after a FATAL error", msg)
		}
		if e, ok := msg.(*pgproto3.ErrorResponse); ok {
			if e.Code == pgerr.InternalError || e.Code == "" {
				return fmt.Errorf("internal error sent: %s %q", e.Code, e.Message)
			}
			fatal = e.Severity == "FATAL"
		}
	}
	return nil
}

// fuzzDeadline bounds one input's exchange; the server's own timeouts
// (startup, linger) are shorter.
const fuzzDeadline = 20 * time.Second

func (fs *fuzzServer) run(t *testing.T, mode byte, data []byte) {
	base := runtime.NumGoroutine()
	stream, answers := fuzzStream(mode, data)
	nc, err := net.DialTimeout("tcp", fs.srv.Addr().String(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(fuzzDeadline))
	wrote := make(chan error, 1)
	go func() {
		_, err := nc.Write(stream)
		nc.(*net.TCPConn).CloseWrite()
		wrote <- err
	}()
	out, err := io.ReadAll(nc)
	<-wrote
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("mode %d: the server neither closed nor stopped within %s (read %d bytes)", mode%fuzzModes, fuzzDeadline, len(out))
	}
	// A reset after the server closed with input unread is a close too.
	if err := checkServerStream(out, answers); err != nil {
		t.Fatalf("mode %d: %v\nserver sent %q", mode%fuzzModes, err, out)
	}
	nc.Close()

	deadline := time.Now().Add(fuzzDeadline)
	for fs.connCount() > 1 || runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("mode %d: %d connections and %d goroutines (baseline %d) left after the client went\n%s",
				mode%fuzzModes, fs.connCount(), runtime.NumGoroutine(), base, buf)
		}
		time.Sleep(time.Millisecond)
	}
	if lines := fs.log.take(); len(lines) > 0 {
		t.Fatalf("mode %d: the server logged errors:\n%s", mode%fuzzModes, strings.Join(lines, "\n"))
	}
	if err := fs.witnessWorks(); err != nil {
		t.Fatalf("mode %d: another connection stopped working: %v", mode%fuzzModes, err)
	}
}

// FuzzFrontend feeds arbitrary client streams to the server's connection
// handling (see the comment at the top of this file).
func FuzzFrontend(f *testing.F) {
	q := func(s string) *pgproto3.Query { return &pgproto3.Query{String: s} }
	cd := func(s string) *pgproto3.CopyData { return &pgproto3.CopyData{Data: []byte(s)} }
	seeds := []struct {
		mode byte
		data []byte
	}{
		{modeRaw, fuzzStartup("u")},
		{modeRaw, append(fuzzStartup("u"), encodeFrontend(q("select 1"), &pgproto3.Terminate{})...)},
		{modeRaw, append(startupPacket(sslRequestCode, nil), fuzzStartup("u")...)},
		{modeRaw, append(append(startupPacket(gssEncRequestCode, nil), startupPacket(sslRequestCode, nil)...), fuzzStartup("u")...)},
		{modeRaw, startupPacket(cancelRequestCode, []byte{0, 0, 0, 1, 2, 3, 4, 5})},
		{modeRaw, startupPacket(3<<16|1, []byte("user\x00u\x00_pq_.x\x00y\x00\x00"))},
		{modeRaw, []byte{0, 0, 0, 4, 0, 3, 0, 0}},
		{modeRaw, []byte{0xff, 0xff, 0xff, 0xf0, 0, 3, 0, 0}},
		{modeRaw, []byte{0, 0, 0, 100, 0, 3, 0, 0}},
		{modeSession, encodeFrontend(q("select 1; rows 3; notice; set a=b"), q(""), q("begin"), q("fail"), q("commit"))},
		{modeSession, encodeFrontend(q("copy out"), q("copy in"), cd("1\n2\n"), &pgproto3.CopyDone{}, q("select 2"))},
		{modeSession, encodeFrontend(q("copy in"), cd("1\n"), &pgproto3.CopyFail{Message: "stop"}, q("select 3"))},
		{modeSession, encodeFrontend(q("copy in"), cd("1\n"), &pgproto3.Flush{}, &pgproto3.Sync{}, q("select 4"))},
		{modeSession, encodeFrontend(q("copy in"), q("select 5"))},
		{modeSession, encodeFrontend(
			&pgproto3.Parse{Name: "s", Query: "select 1"},
			&pgproto3.Describe{ObjectType: 'S', Name: "s"},
			&pgproto3.Bind{DestinationPortal: "p", PreparedStatement: "s", ParameterFormatCodes: []int16{0}, Parameters: [][]byte{[]byte("1")}},
			&pgproto3.Describe{ObjectType: 'P', Name: "p"},
			&pgproto3.Execute{Portal: "p"},
			&pgproto3.Close{ObjectType: 'P', Name: "p"},
			&pgproto3.Close{ObjectType: 'S', Name: "s"},
			&pgproto3.Sync{})},
		{modeSession, encodeFrontend(&pgproto3.Parse{Query: "copy in"}, &pgproto3.Bind{}, &pgproto3.Execute{}, cd("x\n"), &pgproto3.CopyDone{}, &pgproto3.Sync{})},
		{modeSession, encodeFrontend(&pgproto3.Bind{PreparedStatement: "nope"}, &pgproto3.Execute{}, q("select 9"), &pgproto3.Flush{}, &pgproto3.Sync{})},
		{modeSession, encodeFrontend(&pgproto3.FunctionCall{Function: 1}, &pgproto3.PasswordMessage{Password: "x"})},
		{modeSession, []byte{'Q', 0, 0, 0, 3}},
		{modeSession, []byte{'Q', 0xff, 0xff, 0xff, 0xff}},
		{modeSession, []byte{'Q', 0x7f, 0xff, 0xff, 0xff, 's'}},
		{modeSession, []byte{'Q', 0, 0, 0, 12, 's', 'e', 'l'}},
		{modeSession, []byte{'z', 0, 0, 0, 4}},
		{modeSession, []byte{'B', 0, 0, 0, 12, 0, 0, 0xff, 0xff, 0, 0, 0, 0}},
		{modeSession, []byte{'B', 0, 0, 0, 14, 0, 0, 0, 1, 0, 0, 0, 1, 0xff, 0xfe}},
		{modeSession, []byte{'P', 0, 0, 0, 12, 0, 'x', 0, 0xff, 0xff, 0, 0, 0}},
		{modeSession, encodeFrontend(q("sleep"))},
		{modeSSL, encodeFrontend(q("select 1"))},
		{modeCopyIn, encodeFrontend(cd("a\tb\n"), cd("\\.\n"), &pgproto3.CopyDone{}, q("select 1"))},
		{modeCopyIn, []byte{'d', 0, 0, 0, 3}},
		{modeCopyIn, []byte{'d', 0xff, 0xff, 0xff, 0xff}},
		{modeCopyIn, encodeFrontend(q("select 1"))},
		{modeCopyBinary, encodeFrontend(cd("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x01x\xff\xff"), &pgproto3.CopyDone{})},
		{modePassword, encodeFrontend(&pgproto3.PasswordMessage{Password: "clear"}, q("select 1"))},
		{modePassword, encodeFrontend(&pgproto3.PasswordMessage{Password: ""})},
		{modePassword, []byte{'p', 0, 0, 0, 4}},
		{modePassword, []byte{'p', 0, 1, 0, 4}},
		{modeMD5, encodeFrontend(&pgproto3.PasswordMessage{Password: "md5" + strings.Repeat("0", 32)})},
		{modeSCRAM, encodeFrontend(&pgproto3.SASLInitialResponse{AuthMechanism: "SCRAM-SHA-256", Data: []byte("n,,n=,r=abcdefghijklmnop")},
			&pgproto3.SASLResponse{Data: []byte("c=biws,r=abcdefghijklmnop,p=AAAA")})},
		{modeSCRAM, encodeFrontend(&pgproto3.SASLInitialResponse{AuthMechanism: "SCRAM-SHA-256-PLUS", Data: []byte("p=tls-server-end-point,,n=,r=x")})},
		{modeSCRAM, encodeFrontend(&pgproto3.SASLInitialResponse{AuthMechanism: "SCRAM-SHA-256", Data: []byte("y,,n=,r=x")})},
		{modeSCRAM, []byte{'p', 0, 0, 0, 9, 'S', 0, 0xff, 0xff, 0xff, 0xff}},
	}
	for _, s := range seeds {
		f.Add(s.mode, s.data)
	}
	fs := startFuzzServer(f)
	f.Fuzz(func(t *testing.T, mode byte, data []byte) {
		fs.run(t, mode, data)
	})
}
