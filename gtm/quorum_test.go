package gtm

import (
	"strings"
	"testing"
	"time"

	"github.com/xlgo/xlgo/gtm/gtmproto"
)

// ask sends one request on a raw connection and returns the error code of
// its answer (0 for MsgOK) and the answer's body.
func ask(t *testing.T, r *rawConn, id uint64, typ gtmproto.MsgType, body []byte) (gtmproto.ErrorCode, []byte) {
	t.Helper()
	r.write(gtmproto.AppendFrame(nil, gtmproto.Frame{ID: id, Type: typ, Body: body}))
	f, err := r.read()
	if err != nil {
		t.Fatal(err)
	}
	if f.Type == gtmproto.MsgOK {
		return 0, f.Body
	}
	code, _, _ := gtmproto.DecodeError(f.Body)
	return code, nil
}

func witnessBody(name string, coordinators int) []byte {
	var e gtmproto.Encoder
	return e.String(name).Uvarint(uint64(coordinators)).Bytes()
}

// With failover on, a primary without its standby serves only while a
// majority of the coordinators hold a lease (a lease lasts half the failover
// time): cut off with a minority it stops, so that a standby the majority
// promotes is the only primary.
func TestPrimaryNeedsMajorityWithoutStandby(t *testing.T) {
	s := openServer(t, t.TempDir(), nil, WithFailover(2*time.Second))
	r := dialRaw(t, serve(t, s))
	if code, _ := ask(t, r, 1, gtmproto.MsgNextGXID, nil); code != gtmproto.CodeStandby {
		t.Fatalf("no lease at all: code %d, want it refused as a standby would", code)
	}
	ask(t, r, 2, gtmproto.MsgLease, witnessBody("coord1", 3))
	if code, _ := ask(t, r, 3, gtmproto.MsgNextGXID, nil); code != gtmproto.CodeStandby {
		t.Fatalf("1 lease of 3 coordinators: code %d, want refused", code)
	}
	ask(t, r, 4, gtmproto.MsgLease, witnessBody("coord2", 3))
	if code, _ := ask(t, r, 5, gtmproto.MsgNextGXID, nil); code != 0 {
		t.Fatalf("2 leases of 3 coordinators: code %d, want served", code)
	}
	time.Sleep(1100 * time.Millisecond) // the leases run out
	if code, _ := ask(t, r, 6, gtmproto.MsgNextGXID, nil); code != gtmproto.CodeStandby {
		t.Fatalf("leases run out: code %d, want refused", code)
	}
	if !strings.Contains(s.notServingMessage(), "majority") {
		t.Fatal(s.notServingMessage())
	}
}

// A standby promotes itself only when it has not streamed for the failover
// time and a majority of the coordinators voted; it then holds the snapshot
// gate for the committer linger before any reader.
func TestStandbyPromotedByMajorityVote(t *testing.T) {
	p := openServer(t, t.TempDir(), nil, WithFailover(time.Second))
	paddr := serve(t, p)
	s := openServer(t, t.TempDir(), nil, WithFailover(time.Second), WithStandbyOf(paddr), WithCommitterLinger(300*time.Millisecond))
	r := dialRaw(t, serve(t, s))
	deadline := time.Now().Add(5 * time.Second)
	for !s.followed.Load() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	vote := func(id uint64, name string) bool {
		code, body := ask(t, r, id, gtmproto.MsgVote, witnessBody(name, 3))
		if code != 0 {
			t.Fatalf("vote: code %d", code)
		}
		d := gtmproto.NewDecoder(body)
		return d.Bool()
	}
	if vote(1, "coord1") || vote(2, "coord2") {
		t.Fatal("promoted while it streams from its primary")
	}
	crash(p)
	time.Sleep(300 * time.Millisecond)
	if vote(3, "coord1") || vote(4, "coord2") {
		t.Fatal("promoted before the failover time passed")
	}
	time.Sleep(time.Second)
	if vote(5, "coord1") {
		t.Fatal("promoted on one vote of three coordinators")
	}
	if !vote(6, "coord2") || s.IsStandby() {
		t.Fatal("not promoted by two votes of three coordinators a failover time after its primary's loss")
	}
	// Without its own standby it serves the majority that holds a lease:
	// the votes that promoted it are theirs, until the leases come.
	if code, _ := ask(t, r, 8, gtmproto.MsgNextGXID, nil); code != 0 {
		t.Fatalf("served no one right after its promotion by a majority: code %d", code)
	}
	ask(t, r, 10, gtmproto.MsgLease, witnessBody("coord1", 3))
	ask(t, r, 11, gtmproto.MsgLease, witnessBody("coord2", 3))
	start := time.Now()
	if code, _ := ask(t, r, 7, gtmproto.MsgGateEnter, new(gtmproto.Encoder).Uvarint(uint64(gtmproto.GateReader)).Bytes()); code != 0 {
		t.Fatalf("reader at the gate: code %d", code)
	}
	if waited := time.Since(start); waited < 200*time.Millisecond {
		t.Fatalf("a reader passed the gate %v after the promotion; want the committer linger (300ms)", waited)
	}
}

// A committer resumed on a promoted gtm (its connection to the old one
// broke while its commit was applied) holds the gate with the committers at
// once, ahead of the readers that wait; readers pass only when it is done,
// even after the promotion's hold has run out.
func TestResumedCommitterAheadOfReaders(t *testing.T) {
	g := newGate(newMetrics())
	g.hold(100 * time.Millisecond)
	reader, committer := &serverConn{}, &serverConn{}
	if granted, _ := g.enter(reader, 1, gtmproto.GateReader); len(granted) != 0 {
		t.Fatal("a reader passed the gate held after a promotion")
	}
	if granted, _ := g.enter(committer, 2, gtmproto.GateCommitterResume); len(granted) != 1 {
		t.Fatal("a resumed committer was not granted at once")
	}
	time.Sleep(200 * time.Millisecond) // the promotion's hold ends
	if st := g.stats(); st.readersWaiting != 1 || st.holders != 1 {
		t.Fatalf("after the hold: %+v; want the reader waiting for the resumed committer", st)
	}
	if granted := g.leave(committer, 2); len(granted) != 1 || granted[0].conn != reader {
		t.Fatalf("the resumed committer's release granted %v, want the reader", granted)
	}
}
