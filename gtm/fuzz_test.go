package gtm

import (
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/xlgo/xlgo/gtm/gtmproto"
)

// FuzzServerStream feeds any bytes to a GTM as one client's stream. The
// GTM must not panic or hang: every frame it sends is well formed, it ends
// the connection once the client has sent its last byte and its requests
// are answered, and afterwards another client still gets GXIDs and both
// groups of the snapshot gate (nothing the stream held, a gate grant, a
// subscription, a standby's place, is left behind), with no goroutine left.
func FuzzServerStream(f *testing.F) {
	fr := func(id uint64, typ gtmproto.MsgType, body []byte) []byte {
		return gtmproto.AppendFrame(nil, gtmproto.Frame{ID: id, Type: typ, Body: body})
	}
	enc := func() *gtmproto.Encoder { return new(gtmproto.Encoder) }
	def := gtmproto.SeqDef{Name: "d.s.q", Start: 1, Increment: 1, MinValue: 1, MaxValue: 100}
	cat := func(bs ...[]byte) []byte {
		var out []byte
		for _, b := range bs {
			out = append(out, b...)
		}
		return out
	}
	for _, seed := range [][]byte{
		fr(1, gtmproto.MsgNextGXID, nil),
		fr(2, gtmproto.MsgLogDecision, enc().Decision(gtmproto.Decision{GID: "g", Participants: []string{"dn1", "dn2"}, Commit: true}).Bytes()),
		cat(fr(3, gtmproto.MsgDecision, enc().String("g").Bytes()), fr(4, gtmproto.MsgForget, enc().String("g").Bytes()), fr(5, gtmproto.MsgListDecisions, nil)),
		cat(fr(6, gtmproto.MsgWatchCatalog, nil), fr(0, gtmproto.MsgCatalogAck, enc().Uvarint(1).Bytes()), fr(7, gtmproto.MsgBumpCatalogEpoch, nil), fr(8, gtmproto.MsgCatalogEpoch, nil)),
		cat(fr(9, gtmproto.MsgSeqCreate, enc().SeqDef(def).Bool(true).Bytes()), fr(10, gtmproto.MsgSeqNextRange, enc().String(def.Name).Varint(5).Bytes()),
			fr(11, gtmproto.MsgSeqSetval, enc().String(def.Name).Varint(7).Bool(true).Bytes()), fr(12, gtmproto.MsgSeqCurrent, enc().String(def.Name).Bytes()),
			fr(13, gtmproto.MsgSeqAlter, enc().String(def.Name).Uvarint(uint64(gtmproto.SeqFieldsAll)).SeqDef(def).Varint(3).Bool(false).Bytes()),
			fr(14, gtmproto.MsgSeqRename, enc().String(def.Name).String("d.s.r").Bytes()), fr(15, gtmproto.MsgSeqDrop, enc().String("d.s.r").Bool(true).Bytes())),
		cat(fr(16, gtmproto.MsgGateEnter, enc().Uvarint(uint64(gtmproto.GateCommitter)).Bytes()), fr(17, gtmproto.MsgGateEnter, enc().Uvarint(uint64(gtmproto.GateReader)).Bytes())),
		cat(fr(18, gtmproto.MsgGateEnter, enc().Uvarint(uint64(gtmproto.GateReader)).Bytes()), fr(0, gtmproto.MsgGateLeave, enc().Uvarint(18).Bytes())),
		cat(fr(19, gtmproto.MsgReplicate, enc().Uvarint(1).Bytes()), fr(0, gtmproto.MsgReplAck, enc().Uvarint(1<<20).Bytes()), fr(20, gtmproto.MsgNodeInfo, nil)),
		cat(fr(21, gtmproto.MsgReplicate, enc().Uvarint(1).Bytes()), fr(22, gtmproto.MsgReplicate, enc().Uvarint(1).Bytes()), fr(23, gtmproto.MsgLogDecision,
			enc().Decision(gtmproto.Decision{GID: "h", Participants: []string{"dn1"}}).Bytes())),
		fr(24, gtmproto.MsgPromote, nil),
		fr(25, gtmproto.MsgType(0x3f), []byte{1, 2}),
		{0xff, 0xff, 0xff, 0xff},
		{0, 0, 0, 3, 1, 2, 3},
		fr(26, gtmproto.MsgForget, []byte{0xff, 0xff, 0xff}),
	} {
		f.Add(seed)
	}

	s, err := Open(f.TempDir(), nil, WithCatalogAckTimeout(200*time.Millisecond), WithReplAckTimeout(200*time.Millisecond), WithGXIDBlock(1<<20))
	if err != nil {
		f.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	f.Cleanup(func() {
		s.Close()
		<-served
	})
	addr := ln.Addr().String()

	f.Fuzz(func(t *testing.T, data []byte) {
		base := runtime.NumGoroutine()
		nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(20 * time.Second))
		wrote := make(chan error, 1)
		go func() {
			_, err := nc.Write(data)
			nc.(*net.TCPConn).CloseWrite()
			wrote <- err
		}()
		for {
			fr, err := gtmproto.ReadFrame(nc, gtmproto.MaxResponseFrame)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("the gtm neither answered nor closed within 20s")
			}
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !isReset(err) {
					t.Fatalf("bad frame from the gtm: %v", err)
				}
				break
			}
			if err := checkResponse(fr); err != nil {
				t.Fatal(err)
			}
		}
		<-wrote
		nc.Close()

		if err := witness(addr); err != nil {
			t.Fatalf("after the stream: %v", err)
		}
		deadline := time.Now().Add(20 * time.Second)
		for runtime.NumGoroutine() > base {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				t.Fatalf("%d goroutines, %d before the stream\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
			}
			time.Sleep(time.Millisecond)
		}
	})
}

func isReset(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "read"
}

// checkResponse checks one frame the GTM sent: a known type whose body decodes.
func checkResponse(fr gtmproto.Frame) error {
	switch fr.Type {
	case gtmproto.MsgOK, gtmproto.MsgReplSnapshot, gtmproto.MsgReplRecords:
	case gtmproto.MsgCatalogNotify:
		d := gtmproto.NewDecoder(fr.Body)
		d.Uvarint()
		if err := d.Finish(); err != nil {
			return fmt.Errorf("catalog notification: %v", err)
		}
	case gtmproto.MsgError:
		code, msg, err := gtmproto.DecodeError(fr.Body)
		if err != nil {
			return fmt.Errorf("error frame: %v", err)
		}
		if code == gtmproto.CodeInternal {
			return fmt.Errorf("internal error answered: %s", msg)
		}
	default:
		return fmt.Errorf("frame of type %s from the gtm", fr.Type)
	}
	return nil
}

// witness is another client: a GXID, then the gate as a reader and as a committer.
func witness(addr string) error {
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(20 * time.Second))
	ask := func(id uint64, typ gtmproto.MsgType, body []byte) error {
		if err := gtmproto.WriteFrame(nc, gtmproto.Frame{ID: id, Type: typ, Body: body}); err != nil {
			return err
		}
		fr, err := gtmproto.ReadFrame(nc, gtmproto.MaxResponseFrame)
		if err != nil {
			return fmt.Errorf("%s: %v", typ, err)
		}
		if fr.Type != gtmproto.MsgOK || fr.ID != id {
			_, msg, _ := gtmproto.DecodeError(fr.Body)
			return fmt.Errorf("%s: answer %s id %d: %s", typ, fr.Type, fr.ID, msg)
		}
		return nil
	}
	if err := ask(1, gtmproto.MsgNextGXID, nil); err != nil {
		return err
	}
	for i, kind := range []gtmproto.GateKind{gtmproto.GateReader, gtmproto.GateCommitter} {
		token := uint64(10 + i)
		if err := ask(token, gtmproto.MsgGateEnter, new(gtmproto.Encoder).Uvarint(uint64(kind)).Bytes()); err != nil {
			return err
		}
		if err := gtmproto.WriteFrame(nc, gtmproto.Frame{Type: gtmproto.MsgGateLeave, Body: new(gtmproto.Encoder).Uvarint(token).Bytes()}); err != nil {
			return err
		}
	}
	return nil
}
