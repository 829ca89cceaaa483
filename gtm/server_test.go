package gtm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xlgo/xlgo/gtm/gtmproto"
)

// syncBuffer collects log output from concurrent goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func testLogger(buf *syncBuffer) *slog.Logger {
	if buf == nil {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// openServer opens dir and closes the server at the end of the test unless
// the test crashed it first.
func openServer(t *testing.T, dir string, logs *syncBuffer, opts ...Option) *Server {
	t.Helper()
	s, err := Open(dir, testLogger(logs), opts...)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// crash drops the server the way a killed process would: connections vanish and
// the files are closed without anything being written or synced on the way out.
func crash(s *Server) {
	s.promoteMu.Lock()
	s.stopFollow()
	s.promoteMu.Unlock()
	s.shutdown()
	s.wg.Wait()
	s.closeOnce.Do(func() {
		s.wal.mu.Lock()
		s.wal.f.Close()
		s.wal.f = nil
		s.wal.err = errLogFailed
		s.wal.mu.Unlock()
		s.lock.Close()
	})
}

// serve starts s on a loopback port and returns its address.
func serve(t *testing.T, s *Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

func TestGXIDsStrictlyIncreaseAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	var last uint64
	for round := range 4 {
		s := openServer(t, dir, nil, WithGXIDBlock(5))
		for range 7 {
			id, err := s.NextGXID()
			if err != nil {
				t.Fatal(err)
			}
			if id <= last {
				t.Fatalf("round %d: GXID %d after %d", round, id, last)
			}
			last = id
		}
		if round%2 == 0 {
			crash(s)
		} else if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// Ranges larger than the reservation block are reserved whole, and survive
// a crash; a range of no ids or of too many is refused.
func TestGXIDRanges(t *testing.T) {
	dir := t.TempDir()
	s := openServer(t, dir, nil, WithGXIDBlock(5))
	first, err := s.NextGXIDs(100)
	if err != nil {
		t.Fatal(err)
	}
	next, err := s.NextGXID()
	if err != nil || next != first+100 {
		t.Fatalf("NextGXID after a range of 100 from %d = %d, %v", first, next, err)
	}
	for _, n := range []uint64{0, gtmproto.MaxGXIDRange + 1} {
		if _, err := s.NextGXIDs(n); !errors.Is(err, ErrInvalid) {
			t.Errorf("NextGXIDs(%d) = %v, want ErrInvalid", n, err)
		}
	}
	big, err := s.NextGXIDs(50)
	if err != nil {
		t.Fatal(err)
	}
	crash(s)
	s = openServer(t, dir, nil, WithGXIDBlock(5))
	if id, err := s.NextGXID(); err != nil || id < big+50 {
		t.Fatalf("NextGXID after a crash = %d, %v; the range %d..%d was handed out", id, err, big, big+49)
	}
}

// ForgetMany drops known decisions with one write and ignores unknown gids;
// what it dropped stays dropped after a restart.
func TestForgetMany(t *testing.T) {
	dir := t.TempDir()
	s := openServer(t, dir, nil)
	for _, gid := range []string{"a", "b", "c"} {
		if err := s.LogDecision(gtmproto.Decision{GID: gid, Participants: []string{"dn1", "dn2"}, Commit: true}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.ForgetMany([]string{"a", "zz", "c"}); err != nil {
		t.Fatal(err)
	}
	check := func(s *Server) {
		t.Helper()
		ds, err := s.ListDecisions()
		if err != nil || len(ds) != 1 || ds[0].GID != "b" {
			t.Fatalf("decisions left = %+v, %v; want b only", ds, err)
		}
	}
	check(s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	check(openServer(t, dir, nil))
}

func TestGXIDConcurrent(t *testing.T) {
	s := openServer(t, t.TempDir(), nil, WithGXIDBlock(16))
	const workers, each = 8, 200
	results := make([][]uint64, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				id, err := s.NextGXID()
				if err != nil {
					t.Error(err)
					return
				}
				results[w] = append(results[w], id)
			}
		}()
	}
	wg.Wait()
	seen := map[uint64]bool{}
	for w, ids := range results {
		for i, id := range ids {
			if seen[id] {
				t.Fatalf("GXID %d handed out twice", id)
			}
			seen[id] = true
			if i > 0 && id <= ids[i-1] {
				t.Fatalf("worker %d: GXID %d after %d", w, id, ids[i-1])
			}
		}
	}
	if len(seen) != workers*each {
		t.Fatalf("got %d ids, want %d", len(seen), workers*each)
	}
}

func TestDecisionsSurviveCrash(t *testing.T) {
	dir := t.TempDir()
	decisions := []gtmproto.Decision{
		{GID: "xl_1", Participants: []string{"datanode1", "datanode2"}, Commit: true},
		{GID: "xl_2", Participants: []string{"datanode1"}, Commit: false},
		{GID: "xl_3", Participants: []string{"datanode2", "datanode3"}, Commit: true},
		{GID: "xl_4", Participants: []string{"datanode1", "datanode3"}, Commit: true},
	}
	s := openServer(t, dir, nil)
	for _, d := range decisions {
		if err := s.LogDecision(d); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Forget("xl_3"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.BumpCatalogEpoch(); err != nil {
		t.Fatal(err)
	}
	crash(s)

	for round := range 2 { // the second round reads the compacted log
		s = openServer(t, dir, nil)
		tests := []struct {
			gid  string
			want gtmproto.DecisionState
		}{
			{"xl_1", gtmproto.StateCommitted},
			{"xl_2", gtmproto.StateAborted},
			{"xl_3", gtmproto.StateUnknown},
			{"xl_4", gtmproto.StateCommitted},
			{"xl_never", gtmproto.StateUnknown},
		}
		for _, tt := range tests {
			got, err := s.Decision(tt.gid)
			if err != nil || got != tt.want {
				t.Errorf("round %d: Decision(%s) = %v, %v; want %v", round, tt.gid, got, err, tt.want)
			}
		}
		list, err := s.ListDecisions()
		if err != nil {
			t.Fatal(err)
		}
		want := []gtmproto.Decision{decisions[0], decisions[1], decisions[3]}
		if !reflect.DeepEqual(list, want) {
			t.Errorf("round %d: ListDecisions = %+v, want %+v", round, list, want)
		}
		if e := s.CatalogEpoch(); e != 1 {
			t.Errorf("round %d: catalog epoch %d, want 1", round, e)
		}
		crash(s)
	}
}

func TestLogDecisionRules(t *testing.T) {
	s := openServer(t, t.TempDir(), nil)
	base := gtmproto.Decision{GID: "g", Participants: []string{"dn1", "dn2"}, Commit: true}
	if err := s.LogDecision(base); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		d    gtmproto.Decision
		want error
	}{
		{"same decision again", base, nil},
		{"opposite decision", gtmproto.Decision{GID: "g", Participants: []string{"dn1"}, Commit: false}, ErrDecisionConflict},
		{"empty gid", gtmproto.Decision{Participants: []string{"dn1"}, Commit: true}, ErrInvalid},
		{"no participants", gtmproto.Decision{GID: "h", Commit: true}, ErrInvalid},
		{"empty participant", gtmproto.Decision{GID: "h", Participants: []string{""}, Commit: true}, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.LogDecision(tt.d)
			if !errors.Is(err, tt.want) {
				t.Fatalf("LogDecision = %v, want %v", err, tt.want)
			}
		})
	}
	if err := s.Forget("g"); err != nil {
		t.Fatal(err)
	}
	if err := s.Forget("g"); err != nil {
		t.Fatalf("second Forget: %v", err)
	}
	if st, _ := s.Decision("g"); st != gtmproto.StateUnknown {
		t.Fatalf("after Forget: %v", st)
	}
}

func TestTornTailIsTruncated(t *testing.T) {
	good := appendRecord(nil, recCatalogEpoch, encodeUvarint(9))
	badCRC := bytes.Clone(good)
	badCRC[len(badCRC)-1] ^= 0xff
	huge := binary.BigEndian.AppendUint32(nil, maxRecordSz+1)
	huge = append(huge, 0, 0, 0, 0, 1)
	tests := []struct {
		name string
		tail []byte
	}{
		{"partial record header", good[:5]},
		{"partial payload", good[:len(good)-1]},
		{"bad crc", badCRC},
		{"zero length", make([]byte, 12)},
		{"absurd length", huge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openServer(t, dir, nil)
			if err := s.LogDecision(gtmproto.Decision{GID: "keep", Participants: []string{"dn1"}, Commit: true}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.BumpCatalogEpoch(); err != nil {
				t.Fatal(err)
			}
			crash(s)
			path := filepath.Join(dir, logName)
			before := fileSize(t, path)
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.Write(tt.tail); err != nil {
				t.Fatal(err)
			}
			f.Close()

			logs := &syncBuffer{}
			if _, err := replay(dir, testLogger(logs)); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(logs.String(), "torn tail") {
				t.Errorf("no torn-tail warning in logs:\n%s", logs)
			}
			if got := fileSize(t, path); got != before {
				t.Errorf("log size after replay = %d, want %d (tail removed)", got, before)
			}
			s = openServer(t, dir, nil)
			if st, _ := s.Decision("keep"); st != gtmproto.StateCommitted {
				t.Errorf("decision lost: %v", st)
			}
			if e := s.CatalogEpoch(); e != 1 {
				t.Errorf("epoch = %d, want 1 (torn record must not apply)", e)
			}
			// The log stays appendable after the truncation.
			if _, err := s.BumpCatalogEpoch(); err != nil {
				t.Fatal(err)
			}
			crash(s)
			s = openServer(t, dir, nil)
			if e := s.CatalogEpoch(); e != 2 {
				t.Errorf("epoch after reopen = %d, want 2", e)
			}
		})
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func TestOpenRefuses(t *testing.T) {
	tests := []struct {
		name    string
		log     []byte
		wantErr string
	}{
		{"bad header", []byte("NOTALOG!"), "not a GTM log"},
		{"short header", []byte("XL"), "not a GTM log"},
		{"unknown record type", append([]byte(logMagic), appendRecord(nil, recordType(200), nil)...), "unknown record type"},
		{"undecodable record", append([]byte(logMagic), appendRecord(nil, recForget, []byte{0xff})...), "malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, logName), tt.log, 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := Open(dir, nil)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Open error %q does not mention %q", err, tt.wantErr)
			}
		})
	}
}

func TestDataDirLocked(t *testing.T) {
	dir := t.TempDir()
	s := openServer(t, dir, nil)
	if s2, err := Open(dir, nil); err == nil {
		s2.Close()
		t.Fatal("second Open of a data dir in use succeeded")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	openServer(t, dir, nil)
}

// rawConn is a test client speaking frames directly.
type rawConn struct {
	t  *testing.T
	nc net.Conn
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	return &rawConn{t: t, nc: nc}
}

func (r *rawConn) write(b []byte) {
	r.t.Helper()
	if _, err := r.nc.Write(b); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rawConn) read() (gtmproto.Frame, error) {
	return gtmproto.ReadFrame(r.nc, gtmproto.MaxResponseFrame)
}

func TestMalformedFramesCloseOnlyThatConnection(t *testing.T) {
	logs := &syncBuffer{}
	s := openServer(t, t.TempDir(), logs)
	addr := serve(t, s)
	bystander := dialRaw(t, addr)

	frame := func(typ gtmproto.MsgType, body []byte) []byte {
		return gtmproto.AppendFrame(nil, gtmproto.Frame{ID: 7, Type: typ, Body: body})
	}
	tests := []struct {
		name  string
		bytes []byte
	}{
		{"oversized length", binary.BigEndian.AppendUint32(nil, gtmproto.MaxRequestFrame+1)},
		{"length 4GB", []byte{0xff, 0xff, 0xff, 0xff}},
		{"too short", append(binary.BigEndian.AppendUint32(nil, 3), 1, 2, 3)},
		{"garbage decision body", frame(gtmproto.MsgLogDecision, []byte{0xff, 0xff, 0xff})},
		{"trailing bytes", frame(gtmproto.MsgNextGXID, []byte{1})},
		{"gid too long", frame(gtmproto.MsgForget, new(gtmproto.Encoder).String(strings.Repeat("x", 500)).Bytes())},
		{"bad bool", frame(gtmproto.MsgLogDecision, new(gtmproto.Encoder).String("g").Strings([]string{"dn"}).Bytes())},
		{"bad ack", frame(gtmproto.MsgCatalogAck, nil)},
		{"cut mid-frame", frame(gtmproto.MsgNextGXID, nil)[:6]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := dialRaw(t, addr)
			rc.write(tt.bytes)
			if tt.name == "cut mid-frame" {
				rc.nc.(*net.TCPConn).CloseWrite()
			}
			if f, err := rc.read(); err == nil {
				t.Fatalf("connection still open; got frame %+v", f)
			}
			// The server and other connections carry on.
			var e gtmproto.Encoder
			bystander.write(frame(gtmproto.MsgNextGXID, e.Bytes()))
			f, err := bystander.read()
			if err != nil || f.Type != gtmproto.MsgOK || f.ID != 7 {
				t.Fatalf("bystander NextGXID: %+v, %v", f, err)
			}
		})
	}
	if !strings.Contains(logs.String(), "closing connection") {
		t.Errorf("no log line for closed connections:\n%s", logs)
	}
}

func TestUnknownRequestTypeGetsError(t *testing.T) {
	s := openServer(t, t.TempDir(), nil)
	rc := dialRaw(t, serve(t, s))
	rc.write(gtmproto.AppendFrame(nil, gtmproto.Frame{ID: 42, Type: gtmproto.MsgType(0x3f)}))
	f, err := rc.read()
	if err != nil {
		t.Fatal(err)
	}
	code, _, err := gtmproto.DecodeError(f.Body)
	if f.Type != gtmproto.MsgError || f.ID != 42 || err != nil || code != gtmproto.CodeUnknownRequest {
		t.Fatalf("got %+v code %d err %v", f, code, err)
	}
	// Same connection still works, and pipelined requests all get answers.
	var buf []byte
	for id := uint64(1); id <= 50; id++ {
		buf = gtmproto.AppendFrame(buf, gtmproto.Frame{ID: id, Type: gtmproto.MsgNextGXID})
	}
	rc.write(buf)
	seen := map[uint64]bool{}
	for range 50 {
		f, err := rc.read()
		if err != nil || f.Type != gtmproto.MsgOK {
			t.Fatalf("pipelined read: %+v %v", f, err)
		}
		seen[f.ID] = true
	}
	if len(seen) != 50 {
		t.Fatalf("answers for %d distinct ids, want 50", len(seen))
	}
}

func TestCloseIsIdempotentAndServeAfterClose(t *testing.T) {
	s, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(ln); !errors.Is(err, ErrClosed) {
		t.Fatalf("Serve after Close = %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestPrimaryRefusesNewerStandby(t *testing.T) {
	s := openServer(t, t.TempDir(), nil)
	addr := serve(t, s)
	r := dialRaw(t, addr)
	var e gtmproto.Encoder
	r.write(gtmproto.AppendFrame(nil, gtmproto.Frame{ID: 7, Type: gtmproto.MsgReplicate, Body: e.Uvarint(2).Bytes()}))
	f, err := r.read()
	if err != nil {
		t.Fatal(err)
	}
	code, msg, _ := gtmproto.DecodeError(f.Body)
	if f.Type != gtmproto.MsgError || f.ID != 7 || code != gtmproto.CodeInvalid || !strings.Contains(msg, "newer") {
		t.Fatalf("replication request from a newer standby: %v %d %q", f.Type, code, msg)
	}
}

// The first claim of a key holds: later claims get it back, across a crash
// and the compacted log; another key is claimed on its own.
func TestClaimFirstWins(t *testing.T) {
	dir := t.TempDir()
	s := openServer(t, dir, nil)
	claim := func(key, value, want string) {
		t.Helper()
		got, err := s.Claim(key, value)
		if err != nil || got != want {
			t.Fatalf("Claim(%q, %q) = %q, %v; want %q", key, value, got, err, want)
		}
	}
	claim("failover datanode1 from h1:1", "", "")
	claim("failover datanode1 from h1:1", "coord1 h2:2", "coord1 h2:2")
	claim("failover datanode1 from h1:1", "coord2 h2:2", "coord1 h2:2")
	claim("failover datanode1 from h1:1", "", "coord1 h2:2")
	crash(s)
	for range 2 { // the second round reads the compacted log
		s = openServer(t, dir, nil)
		claim("failover datanode1 from h1:1", "coord3 h2:2", "coord1 h2:2")
		claim("failover datanode1 from h2:2", "coord2 h3:3", "coord2 h3:3")
		crash(s)
	}
	s = openServer(t, dir, nil)
	if _, err := s.Claim("", "x"); err == nil {
		t.Fatal("an empty claim key was taken")
	}
}

func TestRecordsOutliveRestarts(t *testing.T) {
	dir := t.TempDir()
	s := openServer(t, dir, nil)
	put := func(k, v string) {
		t.Helper()
		if err := s.PutRecord(k, v); err != nil {
			t.Fatalf("PutRecord(%q, %q): %v", k, v, err)
		}
	}
	put("move/db/public.a", "target=dn1,dn2")
	put("move/db/public.b", "target=dn2")
	put("move/db/public.a", "target=dn1,dn2;pair=dn1->dn2")
	put("move/other/public.c", "x")
	put("move/db/public.b", "")
	crash(s)
	for range 2 { // the second round reads the compacted log
		s = openServer(t, dir, nil)
		got := s.Records("move/db/")
		if len(got) != 1 || got["move/db/public.a"] != "target=dn1,dn2;pair=dn1->dn2" {
			t.Fatalf("after a restart: %v", got)
		}
		if len(s.Records("")) != 2 {
			t.Fatalf("every record: %v", s.Records(""))
		}
		crash(s)
	}
	s = openServer(t, dir, nil)
	if err := s.PutRecord("", "x"); err == nil {
		t.Fatal("an empty record key was taken")
	}
}
