package gtmproto

import (
	"bytes"
	"errors"
	"io"
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestFrameRoundTrip(t *testing.T) {
	frames := []Frame{
		{ID: 1, Type: MsgNextGXID, Body: []byte{}},
		{ID: 1<<64 - 1, Type: MsgOK, Body: []byte{1, 2, 3}},
		{ID: 0, Type: MsgCatalogNotify, Body: new(Encoder).Uvarint(42).Bytes()},
	}
	var buf bytes.Buffer
	for _, f := range frames {
		if err := WriteFrame(&buf, f); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range frames {
		got, err := ReadFrame(&buf, MaxRequestFrame)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("got %+v, want %+v", got, want)
		}
	}
	if _, err := ReadFrame(&buf, MaxRequestFrame); err != io.EOF {
		t.Fatalf("at end: %v, want io.EOF", err)
	}
}

func TestReadFrameRejects(t *testing.T) {
	full := AppendFrame(nil, Frame{ID: 3, Type: MsgForget, Body: []byte("abc")})
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"too large", []byte{0, 0x10, 0, 1}, ErrFrameTooLarge},
		{"too short", []byte{0, 0, 0, 8}, ErrFrameTooShort},
		{"cut body", full[:len(full)-1], io.ErrUnexpectedEOF},
		{"cut header", full[:2], io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ReadFrame(bytes.NewReader(tt.in), MaxRequestFrame); !errors.Is(err, tt.want) {
				t.Fatalf("ReadFrame = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestDecisionRoundTripAndMalformed(t *testing.T) {
	want := Decision{GID: "xl_7", Participants: []string{"datanode1", "datanode2"}, Commit: true}
	body := new(Encoder).Decision(want).Bytes()
	d := NewDecoder(body)
	if got := d.Decision(); !reflect.DeepEqual(got, want) || d.Finish() != nil {
		t.Fatalf("got %+v, %v", got, d.Finish())
	}
	bad := map[string][]byte{
		"empty":           nil,
		"cut":             body[:len(body)-1],
		"trailing":        append(bytes.Clone(body), 0),
		"bool 2":          append(bytes.Clone(body[:len(body)-1]), 2),
		"gid too long":    new(Encoder).String(strings.Repeat("g", MaxGIDLen+1)).Strings([]string{"a"}).Bool(true).Bytes(),
		"huge count":      new(Encoder).String("g").Uvarint(1 << 40).Bytes(),
		"overlong varint": bytes.Repeat([]byte{0xff}, 11),
	}
	for name, b := range bad {
		d := NewDecoder(b)
		d.Decision()
		if err := d.Finish(); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: Finish = %v, want ErrMalformed", name, err)
		}
	}
}

func FuzzDecoder(f *testing.F) {
	f.Add(new(Encoder).Decision(Decision{GID: "g", Participants: []string{"a"}, Commit: true}).Bytes())
	f.Add([]byte{0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		d := NewDecoder(b)
		dec := d.Decision()
		if d.Finish() == nil {
			d2 := NewDecoder(new(Encoder).Decision(dec).Bytes())
			if again := d2.Decision(); d2.Finish() != nil || !reflect.DeepEqual(again, dec) {
				t.Fatalf("%x decoded to %+v, re-encoded and decoded to %+v", b, dec, again)
			}
		}
	})
}

func TestSignedAndSequenceEncodings(t *testing.T) {
	def := SeqDef{Name: "db.public.s", Start: math.MinInt64, Increment: -7, MinValue: math.MinInt64, MaxValue: math.MaxInt64, Cycle: true}
	var e Encoder
	e.Varint(-1).Varint(math.MaxInt64).Raw([]byte{0, 1, 2}).SeqDef(def)
	d := NewDecoder(e.Bytes())
	if v := d.Varint(); v != -1 {
		t.Fatalf("varint %d", v)
	}
	if v := d.Varint(); v != math.MaxInt64 {
		t.Fatalf("varint %d", v)
	}
	if b := d.Raw(3); string(b) != "\x00\x01\x02" {
		t.Fatalf("raw %q", b)
	}
	if got := d.SeqDef(); got != def {
		t.Fatalf("seqdef %+v", got)
	}
	if err := d.Finish(); err != nil {
		t.Fatal(err)
	}
	// A byte string longer than its limit is malformed.
	e = Encoder{}
	d = NewDecoder(e.Raw([]byte("abcd")).Bytes())
	d.Raw(3)
	if !errors.Is(d.Err(), ErrMalformed) {
		t.Fatalf("oversized raw: %v", d.Err())
	}
	for code, want := range map[ErrorCode]string{CodeUndefinedObject: "42P01", CodeDuplicateObject: "42P07",
		CodeSequenceLimit: "2200H", CodeOutOfRange: "22003", CodeInternal: "XX000"} {
		if code.SQLState() != want {
			t.Errorf("%d.SQLState() = %s, want %s", code, code.SQLState(), want)
		}
	}
}
