// Package gtmproto is the wire protocol between the GTM and its clients:
// frame layout, message types and the binary encoding of message bodies.
// It does no I/O beyond reading and writing one frame on a given stream.
//
// A frame is
//
//	uint32 length   big-endian, number of bytes that follow (id + type + body)
//	uint64 id       big-endian request id chosen by the client; 0 for server pushes and acks
//	byte   type     a MsgType
//	body            length-9 bytes, encoded with Encoder / Decoder
//
// A client may have many requests in flight on one connection; every response
// (MsgOK or MsgError) carries the id of its request and responses may arrive in
// any order. Body encodings are built from three primitives: uvarint, bool (one
// byte, 0 or 1) and string (uvarint length + bytes). Bodies by type:
//
//	MsgNextGXID          req: -                          ok: uvarint gxid
//	MsgLogDecision       req: string gid, strings parts, bool commit   ok: -
//	MsgForget            req: string gid                 ok: -
//	MsgDecision          req: string gid                 ok: uvarint DecisionState
//	MsgListDecisions     req: -                          ok: uvarint n, n x (string gid, strings parts, bool commit)
//	MsgCatalogEpoch      req: -                          ok: uvarint epoch
//	MsgBumpCatalogEpoch  req: [bool fence]               ok: uvarint epoch (after every subscriber acked)
//	MsgWatchCatalog      req: -                          ok: uvarint current epoch; the connection is now subscribed
//	MsgCatalogNotify     server push, id 0: uvarint epoch [bool fence]; a fence's subscribers
//	                     acknowledge once no statement planned before it runs
//	MsgCatalogAck        client, id 0, no response: uvarint epoch (every epoch up to it has been applied)
//	MsgSeqCreate         req: seqdef, bool ifNotExists                   ok: -
//	MsgSeqDrop           req: string name, bool ifExists                 ok: -
//	MsgSeqAlter          req: string name, uvarint SeqField mask, seqdef fields, varint restart, bool ifExists   ok: -
//	MsgSeqNextRange      req: string name, varint count                  ok: varint first, varint n, varint increment
//	MsgSeqSetval         req: string name, varint value, bool isCalled   ok: -
//	MsgSeqRename         req: string from, string to                     ok: -
//	MsgSeqCurrent        req: string name                                ok: seqdef, varint last, bool isCalled
//	MsgGateEnter         req: uvarint GateKind                           ok: - (sent once granted; the request id is the grant's token)
//	MsgGateLeave         client, id 0, no response: uvarint token (releases the grant, or withdraws a request still waiting)
//	MsgReplicate         req: uvarint generation of the standby          responses (same id): MsgReplSnapshot, then MsgReplRecords...; MsgError if refused
//	MsgReplSnapshot      server push: uvarint generation, uvarint offset, bytes records (the whole state as of offset)
//	MsgReplRecords       server push: uvarint end offset, bytes records (log records up to end offset)
//	MsgReplAck           standby, id 0, no response: uvarint end offset (everything up to it is fsync'd on the standby)
//	MsgPromote           req: -                                          ok: uvarint generation, bool was streaming
//	MsgNodeInfo          req: -                                          ok: bool standby, bool peer connected, uvarint generation, string peer address
//	MsgClaim             req: string key, string value ("" reads)        ok: string value that holds (the first claim of key)
//	MsgLease             req: string coordinator, uvarint coordinators   ok: - (a primary; see gtm/quorum.go)
//	MsgVote              req: string coordinator, uvarint coordinators   ok: bool primary now (a standby's promotion)
//	MsgRecordPut         req: string key, string value ("" deletes)      ok: - (durable)
//	MsgRecordList        req: string key prefix                          ok: uvarint n, n times string key, string value
//	MsgError             uvarint ErrorCode, string message
//
// "seqdef" is string name, varint start, varint increment, varint min, varint
// max, bool cycle; "varint" is a zig-zag signed varint, "bytes" a uvarint
// length and raw bytes. Log records inside replication frames are in the GTM
// log's own framing (length, CRC, type, body).
//
// "strings" is uvarint n followed by n strings. A frame longer than the
// receiver's limit, shorter than 9 bytes, or whose body does not decode makes the
// receiver close the connection. An unknown request type gets MsgError with
// CodeUnknownRequest, so new request types can be added without breaking old
// servers' connections.
package gtmproto

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// MsgType identifies what a frame carries.
type MsgType byte

// Request, push and response types.
const (
	MsgNextGXID         MsgType = 0x01
	MsgLogDecision      MsgType = 0x02
	MsgForget           MsgType = 0x03
	MsgDecision         MsgType = 0x04
	MsgListDecisions    MsgType = 0x05
	MsgCatalogEpoch     MsgType = 0x06
	MsgBumpCatalogEpoch MsgType = 0x07
	MsgWatchCatalog     MsgType = 0x08
	MsgCatalogAck       MsgType = 0x09
	MsgSeqCreate        MsgType = 0x0a
	MsgSeqDrop          MsgType = 0x0b
	MsgSeqAlter         MsgType = 0x0c
	MsgSeqNextRange     MsgType = 0x0d
	MsgSeqSetval        MsgType = 0x0e
	MsgSeqRename        MsgType = 0x0f
	MsgSeqCurrent       MsgType = 0x10
	MsgGateEnter        MsgType = 0x11
	MsgGateLeave        MsgType = 0x12
	MsgReplicate        MsgType = 0x13
	MsgReplAck          MsgType = 0x14
	MsgPromote          MsgType = 0x15
	MsgNodeInfo         MsgType = 0x16
	MsgNextGXIDs        MsgType = 0x17
	MsgForgetMany       MsgType = 0x18
	MsgClaim            MsgType = 0x19
	MsgLease            MsgType = 0x1a
	MsgVote             MsgType = 0x1b
	MsgRecordPut        MsgType = 0x1c
	MsgRecordList       MsgType = 0x1d

	MsgCatalogNotify MsgType = 0x40
	MsgReplSnapshot  MsgType = 0x41
	MsgReplRecords   MsgType = 0x42

	MsgOK    MsgType = 0x80
	MsgError MsgType = 0x81
)

// String names the message type for logs.
func (t MsgType) String() string {
	switch t {
	case MsgNextGXID:
		return "NextGXID"
	case MsgNextGXIDs:
		return "NextGXIDs"
	case MsgForgetMany:
		return "ForgetMany"
	case MsgLogDecision:
		return "LogDecision"
	case MsgForget:
		return "Forget"
	case MsgDecision:
		return "Decision"
	case MsgListDecisions:
		return "ListDecisions"
	case MsgCatalogEpoch:
		return "CatalogEpoch"
	case MsgBumpCatalogEpoch:
		return "BumpCatalogEpoch"
	case MsgWatchCatalog:
		return "WatchCatalog"
	case MsgCatalogAck:
		return "CatalogAck"
	case MsgSeqCreate:
		return "SeqCreate"
	case MsgSeqDrop:
		return "SeqDrop"
	case MsgSeqAlter:
		return "SeqAlter"
	case MsgSeqNextRange:
		return "SeqNextRange"
	case MsgSeqSetval:
		return "SeqSetval"
	case MsgSeqRename:
		return "SeqRename"
	case MsgSeqCurrent:
		return "SeqCurrent"
	case MsgGateEnter:
		return "GateEnter"
	case MsgGateLeave:
		return "GateLeave"
	case MsgReplicate:
		return "Replicate"
	case MsgReplAck:
		return "ReplAck"
	case MsgPromote:
		return "Promote"
	case MsgNodeInfo:
		return "NodeInfo"
	case MsgClaim:
		return "Claim"
	case MsgLease:
		return "Lease"
	case MsgVote:
		return "Vote"
	case MsgRecordPut:
		return "RecordPut"
	case MsgRecordList:
		return "RecordList"
	case MsgCatalogNotify:
		return "CatalogNotify"
	case MsgReplSnapshot:
		return "ReplSnapshot"
	case MsgReplRecords:
		return "ReplRecords"
	case MsgOK:
		return "OK"
	case MsgError:
		return "Error"
	}
	return fmt.Sprintf("MsgType(0x%02x)", byte(t))
}

// ErrorCode classifies a MsgError response.
type ErrorCode uint64

// Error codes carried by MsgError.
const (
	CodeInternal         ErrorCode = 1  // the GTM could not do it (e.g. its log is not writable)
	CodeUnknownRequest   ErrorCode = 2  // the request type is not known to this GTM
	CodeInvalid          ErrorCode = 3  // the request is well-formed but its values are not acceptable
	CodeDecisionConflict ErrorCode = 4  // a different decision for the same gid is already logged
	CodeShuttingDown     ErrorCode = 5  // the GTM is closing
	CodeUndefinedObject  ErrorCode = 6  // the named sequence does not exist
	CodeDuplicateObject  ErrorCode = 7  // a sequence of that name already exists
	CodeSequenceLimit    ErrorCode = 8  // nextval reached the sequence's maximum or minimum
	CodeInvalidParameter ErrorCode = 9  // a sequence definition is not acceptable
	CodeOutOfRange       ErrorCode = 10 // setval's value is outside the sequence's bounds
	CodeStandby          ErrorCode = 11 // this GTM is a standby: it serves nothing but replication until promoted
)

// SQLState is the PostgreSQL SQLSTATE a coordinator reports for a GTM error.
func (c ErrorCode) SQLState() string {
	switch c {
	case CodeInvalid, CodeInvalidParameter:
		return "22023" // invalid_parameter_value
	case CodeDecisionConflict:
		return "40001" // serialization_failure
	case CodeShuttingDown:
		return "57P01" // admin_shutdown
	case CodeUndefinedObject:
		return "42P01" // undefined_table
	case CodeDuplicateObject:
		return "42P07" // duplicate_table
	case CodeSequenceLimit:
		return "2200H" // sequence_generator_limit_exceeded
	case CodeOutOfRange:
		return "22003" // numeric_value_out_of_range
	case CodeStandby:
		return "57P03" // cannot_connect_now
	}
	return "XX000" // internal_error
}

// GateKind is the group a snapshot gate request belongs to.
type GateKind uint64

// Snapshot gate groups: readers share the gate with readers, committers with committers.
const (
	GateReader    GateKind = 1
	GateCommitter GateKind = 2
	// GateCommitterResume asks again for a committer's grant whose
	// connection broke while its commit was applied: granted at once, ahead
	// of waiting readers, while committers hold the gate (a promoted gtm
	// starts so), else queued as a committer.
	GateCommitterResume GateKind = 3
)

// SeqField is a bit of MsgSeqAlter's mask: which parts of the definition change.
type SeqField uint64

// Parts of a sequence definition that MsgSeqAlter may change.
const (
	SeqFieldStart       SeqField = 1 << iota // START WITH
	SeqFieldIncrement                        // INCREMENT BY
	SeqFieldMinValue                         // MINVALUE / NO MINVALUE
	SeqFieldMaxValue                         // MAXVALUE / NO MAXVALUE
	SeqFieldCycle                            // [NO] CYCLE
	SeqFieldRestart                          // RESTART (at the start value)
	SeqFieldRestartWith                      // RESTART WITH value
	seqFieldEnd
)

// SeqFieldsAll is every valid SeqField bit.
const SeqFieldsAll = seqFieldEnd - 1

// SeqDef is a sequence's definition on the wire.
type SeqDef struct {
	Name      string
	Start     int64
	Increment int64
	MinValue  int64
	MaxValue  int64
	Cycle     bool
}

// DecisionState is the answer to MsgDecision.
type DecisionState uint64

// Decision states on the wire.
const (
	StateUnknown   DecisionState = 0
	StateCommitted DecisionState = 1
	StateAborted   DecisionState = 2
)

// Limits shared by both sides.
const (
	headerLen = 4 + 8 + 1
	// MaxRequestFrame is the largest frame (after the length word) a GTM accepts.
	MaxRequestFrame = 1 << 20
	// MaxResponseFrame is the largest frame a client accepts (ListDecisions may be long).
	MaxResponseFrame = 256 << 20
	// MaxGIDLen is PostgreSQL's limit on a prepared transaction's gid (GIDSIZE - 1).
	MaxGIDLen = 199
	// MaxGXIDRange bounds the ids one NextGXIDs hands out.
	MaxGXIDRange = 1 << 16
	// MaxForgetBatch bounds the gids of one ForgetMany.
	MaxForgetBatch = 4096
	// MaxParticipants bounds the participant list of one decision.
	MaxParticipants = 4096
	// MaxNodeNameLen bounds one participant name.
	MaxNodeNameLen = 255
	// MaxSeqNameLen bounds a sequence name ("database.schema.name", quoted parts included).
	MaxSeqNameLen = 1024
	// MaxAddrLen bounds a host:port string.
	MaxAddrLen = 1024
	// MaxClaimLen bounds a claim's key and its value.
	MaxClaimLen = 1024
)

// Errors from ReadFrame and Decoder.
var (
	ErrFrameTooLarge = errors.New("gtm frame too large")
	ErrFrameTooShort = errors.New("gtm frame too short")
	ErrMalformed     = errors.New("malformed gtm message body")
)

// Frame is one message on the wire.
type Frame struct {
	ID   uint64
	Type MsgType
	Body []byte
}

// AppendFrame appends f's encoding to dst.
func AppendFrame(dst []byte, f Frame) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(8+1+len(f.Body)))
	dst = binary.BigEndian.AppendUint64(dst, f.ID)
	dst = append(dst, byte(f.Type))
	return append(dst, f.Body...)
}

// WriteFrame writes f with a single Write call.
func WriteFrame(w io.Writer, f Frame) error {
	_, err := w.Write(AppendFrame(make([]byte, 0, headerLen+len(f.Body)), f))
	return err
}

// ReadFrame reads one frame whose length word is at most max. It returns
// ErrFrameTooLarge or ErrFrameTooShort (without reading the body) for a bad
// length, io.EOF at a clean end of stream and io.ErrUnexpectedEOF inside a frame.
func ReadFrame(r io.Reader, max int) (Frame, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return Frame{}, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n < 9 {
		return Frame{}, fmt.Errorf("%w: length %d", ErrFrameTooShort, n)
	}
	if uint64(n) > uint64(max) {
		return Frame{}, fmt.Errorf("%w: length %d, limit %d", ErrFrameTooLarge, n, max)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return Frame{}, err
	}
	return Frame{ID: binary.BigEndian.Uint64(buf[:8]), Type: MsgType(buf[8]), Body: buf[9:]}, nil
}

// Encoder builds a message body.
type Encoder struct{ buf []byte }

// Bytes returns the encoded body.
func (e *Encoder) Bytes() []byte { return e.buf }

// Uvarint appends v.
func (e *Encoder) Uvarint(v uint64) *Encoder { e.buf = binary.AppendUvarint(e.buf, v); return e }

// Bool appends b as one byte.
func (e *Encoder) Bool(b bool) *Encoder {
	if b {
		e.buf = append(e.buf, 1)
	} else {
		e.buf = append(e.buf, 0)
	}
	return e
}

// Varint appends a signed (zig-zag) varint.
func (e *Encoder) Varint(v int64) *Encoder { e.buf = binary.AppendVarint(e.buf, v); return e }

// Raw appends b with its length.
func (e *Encoder) Raw(b []byte) *Encoder {
	e.buf = binary.AppendUvarint(e.buf, uint64(len(b)))
	e.buf = append(e.buf, b...)
	return e
}

// SeqDef appends a sequence definition.
func (e *Encoder) SeqDef(d SeqDef) *Encoder {
	return e.String(d.Name).Varint(d.Start).Varint(d.Increment).Varint(d.MinValue).Varint(d.MaxValue).Bool(d.Cycle)
}

// String appends s with its length.
func (e *Encoder) String(s string) *Encoder {
	e.buf = binary.AppendUvarint(e.buf, uint64(len(s)))
	e.buf = append(e.buf, s...)
	return e
}

// Strings appends a count and then each string.
func (e *Encoder) Strings(ss []string) *Encoder {
	e.Uvarint(uint64(len(ss)))
	for _, s := range ss {
		e.String(s)
	}
	return e
}

// Decision appends one decision (gid, participants, commit).
func (e *Encoder) Decision(d Decision) *Encoder {
	return e.String(d.GID).Strings(d.Participants).Bool(d.Commit)
}

// Decoder reads a message body. The first error sticks; later reads return zero values.
type Decoder struct {
	b   []byte
	err error
}

// NewDecoder decodes b.
func NewDecoder(b []byte) *Decoder { return &Decoder{b: b} }

func (d *Decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: bad %s", ErrMalformed, what)
	}
	d.b = nil
}

// Uvarint reads a uvarint.
func (d *Decoder) Uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("uvarint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// Varint reads a signed (zig-zag) varint.
func (d *Decoder) Varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// Raw reads a byte string of at most max bytes (the result aliases the body).
func (d *Decoder) Raw(max int) []byte {
	n := d.Uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(max) || n > uint64(len(d.b)) {
		d.fail("bytes length")
		return nil
	}
	b := d.b[:n:n]
	d.b = d.b[n:]
	return b
}

// SeqDef reads a sequence definition.
func (d *Decoder) SeqDef() SeqDef {
	return SeqDef{Name: d.String(MaxSeqNameLen), Start: d.Varint(), Increment: d.Varint(),
		MinValue: d.Varint(), MaxValue: d.Varint(), Cycle: d.Bool()}
}

// Bool reads a bool byte.
func (d *Decoder) Bool() bool {
	if d.err != nil {
		return false
	}
	if len(d.b) < 1 || d.b[0] > 1 {
		d.fail("bool")
		return false
	}
	v := d.b[0] == 1
	d.b = d.b[1:]
	return v
}

// String reads a string of at most max bytes.
func (d *Decoder) String(max int) string {
	n := d.Uvarint()
	if d.err != nil {
		return ""
	}
	if n > uint64(max) || n > uint64(len(d.b)) {
		d.fail("string length")
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

// Strings reads at most maxN strings of at most maxLen bytes each.
func (d *Decoder) Strings(maxN, maxLen int) []string {
	n := d.Uvarint()
	if d.err != nil {
		return nil
	}
	// Every string takes at least one byte, which bounds n by the body size.
	if n > uint64(maxN) || n > uint64(len(d.b)) {
		d.fail("string count")
		return nil
	}
	out := make([]string, 0, n)
	for i := uint64(0); i < n && d.err == nil; i++ {
		out = append(out, d.String(maxLen))
	}
	return out
}

// Decision reads one decision.
func (d *Decoder) Decision() Decision {
	gid := d.String(MaxGIDLen)
	parts := d.Strings(MaxParticipants, MaxNodeNameLen)
	commit := d.Bool()
	return Decision{GID: gid, Participants: parts, Commit: commit}
}

// Err reports the first decoding error so far.
func (d *Decoder) Err() error { return d.err }

// More tells whether bytes are left to read (an optional trailing field).
func (d *Decoder) More() bool { return d.err == nil && len(d.b) > 0 }

// Finish reports the first decoding error, or ErrMalformed if bytes are left over.
func (d *Decoder) Finish() error {
	if d.err != nil {
		return d.err
	}
	if len(d.b) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(d.b))
	}
	return nil
}

// Decision is a logged two-phase commit decision.
type Decision struct {
	GID          string
	Participants []string
	Commit       bool
}

// EncodeError builds a MsgError body.
func EncodeError(code ErrorCode, msg string) []byte {
	var e Encoder
	return e.Uvarint(uint64(code)).String(msg).Bytes()
}

// DecodeError reads a MsgError body.
func DecodeError(body []byte) (ErrorCode, string, error) {
	d := NewDecoder(body)
	code := ErrorCode(d.Uvarint())
	msg := d.String(MaxRequestFrame)
	return code, msg, d.Finish()
}
