package gtm

import (
	"fmt"
	"sort"

	"github.com/xlgo/xlgo/gtm/gtmproto"
)

// recordType is the first byte of a log record's payload. New kinds of state
// (sequences, the snapshot gate's durable parts) get new values; values are never
// reused. An unknown type with a valid CRC is refused on open rather than dropped.
type recordType byte

const (
	// recGXIDReserved: uvarint n. Every GXID below n may have been handed out.
	recGXIDReserved recordType = 1
	// recDecision: a gtmproto-encoded Decision.
	recDecision recordType = 2
	// recForget: string gid. The decision for gid is no longer needed.
	recForget recordType = 3
	// recCatalogEpoch: uvarint epoch. The catalog epoch is now this value.
	recCatalogEpoch recordType = 4
)

// firstGXID is the first id handed out by a fresh GTM (0 means "no GXID").
const firstGXID = 1

// state is everything the log records; replay rebuilds it and compaction writes
// it back out. It is not safe for concurrent use; the Server guards each part.
type state struct {
	gxidReserved uint64 // ids below this may have been used
	decisions    map[string]gtmproto.Decision
	catalogEpoch uint64
}

func newState() *state {
	return &state{gxidReserved: firstGXID, decisions: map[string]gtmproto.Decision{}}
}

// apply replays one record.
func (st *state) apply(t recordType, body []byte) error {
	d := gtmproto.NewDecoder(body)
	switch t {
	case recGXIDReserved:
		n := d.Uvarint()
		if err := d.Finish(); err != nil {
			return err
		}
		st.gxidReserved = max(st.gxidReserved, n)
	case recDecision:
		dec := d.Decision()
		if err := d.Finish(); err != nil {
			return err
		}
		st.decisions[dec.GID] = dec
	case recForget:
		gid := d.String(gtmproto.MaxGIDLen)
		if err := d.Finish(); err != nil {
			return err
		}
		delete(st.decisions, gid)
	case recCatalogEpoch:
		e := d.Uvarint()
		if err := d.Finish(); err != nil {
			return err
		}
		st.catalogEpoch = max(st.catalogEpoch, e)
	default:
		return fmt.Errorf("unknown record type %d (log written by a newer GTM?)", t)
	}
	return nil
}

// snapshot encodes the live state as log records (the body of a compacted log).
func (st *state) snapshot() []byte {
	var out []byte
	var e gtmproto.Encoder
	out = appendRecord(out, recGXIDReserved, e.Uvarint(st.gxidReserved).Bytes())
	e = gtmproto.Encoder{}
	out = appendRecord(out, recCatalogEpoch, e.Uvarint(st.catalogEpoch).Bytes())
	gids := make([]string, 0, len(st.decisions))
	for gid := range st.decisions {
		gids = append(gids, gid)
	}
	sort.Strings(gids)
	for _, gid := range gids {
		e = gtmproto.Encoder{}
		out = appendRecord(out, recDecision, e.Decision(st.decisions[gid]).Bytes())
	}
	return out
}

func encodeUvarint(v uint64) []byte {
	var e gtmproto.Encoder
	return e.Uvarint(v).Bytes()
}

func encodeString(s string) []byte {
	var e gtmproto.Encoder
	return e.String(s).Bytes()
}
