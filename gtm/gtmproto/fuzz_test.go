package gtmproto

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"
)

// FuzzReadFrame: any stream reads as whole frames, each exactly the bytes
// it came from, until a clean end or one of the documented errors.
func FuzzReadFrame(f *testing.F) {
	f.Add(AppendFrame(AppendFrame(nil, Frame{ID: 1, Type: MsgNextGXID}), Frame{ID: 2, Type: MsgOK, Body: []byte{7}}))
	f.Add([]byte{0, 0, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8})
	f.Add([]byte{0, 0x10, 0, 1})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0})
	f.Add(AppendFrame(nil, Frame{ID: 3, Type: MsgForget, Body: []byte("abc")})[:15])
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		for {
			before := len(data) - r.Len()
			fr, err := ReadFrame(r, MaxRequestFrame)
			if err != nil {
				switch {
				case errors.Is(err, io.EOF) && before == len(data):
				case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, ErrFrameTooLarge), errors.Is(err, ErrFrameTooShort):
				default:
					t.Fatalf("ReadFrame at %d: unexpected error %v", before, err)
				}
				return
			}
			used := data[before : len(data)-r.Len()]
			if again := AppendFrame(nil, fr); !bytes.Equal(again, used) {
				t.Fatalf("frame %+v from %x encodes as %x", fr, used, again)
			}
			if len(used) > 4+MaxRequestFrame {
				t.Fatalf("frame of %d bytes accepted", len(used))
			}
		}
	})
}

// bodyShapes are the body layouts of the package comment, one letter per
// field: u uvarint, v varint, b bool, s string, S strings, r bytes,
// d seqdef, D decision, n a count then that many decisions.
var bodyShapes = map[string]string{
	"NextGXID ok": "u", "LogDecision": "D", "Forget": "s", "Decision": "s", "Decision ok": "u",
	"ListDecisions ok": "n", "CatalogNotify": "u", "SeqCreate": "db", "SeqDrop": "sb",
	"SeqAlter": "suddvb", "SeqNextRange": "sv", "SeqNextRange ok": "vvv", "SeqSetval": "svb",
	"SeqRename": "ss", "SeqCurrent": "s", "SeqCurrent ok": "dvb", "GateEnter": "u",
	"Replicate": "u", "ReplSnapshot": "uur", "ReplRecords": "ur", "Promote ok": "ub",
	"NodeInfo ok": "bbus", "Error": "us",
}

func decodeShape(d *Decoder, shape string) []any {
	var vals []any
	for _, c := range shape {
		switch c {
		case 'u':
			vals = append(vals, d.Uvarint())
		case 'v':
			vals = append(vals, d.Varint())
		case 'b':
			vals = append(vals, d.Bool())
		case 's':
			vals = append(vals, d.String(MaxSeqNameLen))
		case 'S':
			vals = append(vals, d.Strings(MaxParticipants, MaxNodeNameLen))
		case 'r':
			vals = append(vals, bytes.Clone(d.Raw(MaxRequestFrame)))
		case 'd':
			vals = append(vals, d.SeqDef())
		case 'D':
			vals = append(vals, d.Decision())
		case 'n':
			n := d.Uvarint()
			var decs []Decision
			for i := uint64(0); i < n && d.Err() == nil; i++ {
				decs = append(decs, d.Decision())
			}
			vals = append(vals, decs)
		}
	}
	return vals
}

func encodeShape(e *Encoder, shape string, vals []any) {
	for i, c := range shape {
		switch v := vals[i]; c {
		case 'u':
			e.Uvarint(v.(uint64))
		case 'v':
			e.Varint(v.(int64))
		case 'b':
			e.Bool(v.(bool))
		case 's':
			e.String(v.(string))
		case 'S':
			e.Strings(v.([]string))
		case 'r':
			e.Raw(v.([]byte))
		case 'd':
			e.SeqDef(v.(SeqDef))
		case 'D':
			e.Decision(v.(Decision))
		case 'n':
			e.Uvarint(uint64(len(v.([]Decision))))
			for _, dec := range v.([]Decision) {
				e.Decision(dec)
			}
		}
	}
}

// FuzzBodies decodes any bytes as every body layout: no panic, and what
// decodes whole encodes to bytes that decode to the same values.
func FuzzBodies(f *testing.F) {
	f.Add(new(Encoder).Decision(Decision{GID: "g", Participants: []string{"a", "b"}, Commit: true}).Bytes())
	f.Add(new(Encoder).String("d.s.q").Uvarint(uint64(SeqFieldsAll)).SeqDef(SeqDef{Name: "x", Start: -1}).Varint(3).Bool(true).Bytes())
	f.Add(new(Encoder).Uvarint(2).Decision(Decision{GID: "a"}).Decision(Decision{GID: "b", Commit: true}).Bytes())
	f.Add(new(Encoder).Uvarint(1).Uvarint(9).Raw([]byte("records")).Bytes())
	f.Add(EncodeError(CodeSequenceLimit, "reached maximum value of sequence"))
	f.Add([]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01})
	f.Fuzz(func(t *testing.T, body []byte) {
		for name, shape := range bodyShapes {
			d := NewDecoder(body)
			vals := decodeShape(d, shape)
			if d.Finish() != nil {
				continue
			}
			var e Encoder
			encodeShape(&e, shape, vals)
			d2 := NewDecoder(e.Bytes())
			again := decodeShape(d2, shape)
			if err := d2.Finish(); err != nil || !reflect.DeepEqual(again, vals) {
				t.Fatalf("%s: %x decodes to %#v; encoded again it decodes to %#v (%v)", name, body, vals, again, err)
			}
		}
	})
}
