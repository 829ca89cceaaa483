package gtm

import (
	"fmt"
	"maps"
	"slices"
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
	// recSeq: seqdef, varint last, bool isCalled. The sequence now has this
	// definition and state (created, altered, set, or a range reserved up to last).
	recSeq recordType = 5
	// recSeqDrop: string name. The sequence is dropped.
	recSeqDrop recordType = 6
	// recSeqRename: string from, string to. The sequence is renamed.
	recSeqRename recordType = 7
	// recGeneration: uvarint generation. Bumped by every promotion of a standby
	// (a fresh primary starts at 1); a standby never follows an older generation.
	recGeneration recordType = 8
	// recClaim: string key, string value. The first claim of key, which every
	// later claim of it gets back (a failover's one decider).
	recClaim recordType = 9
	// recPut: string key, string value. A record's value ("" removes it):
	// what outlives a coordinator and its moves (a redistribution's target).
	recPut recordType = 10
)

// seqState is one sequence: its definition and where it stands. last is the
// last value handed out (or reserved) when isCalled, else the next value to hand out.
type seqState struct {
	def      gtmproto.SeqDef
	last     int64
	isCalled bool
}

func encodeSeq(q seqState) []byte {
	var e gtmproto.Encoder
	return e.SeqDef(q.def).Varint(q.last).Bool(q.isCalled).Bytes()
}

// firstGXID is the first id handed out by a fresh GTM (0 means "no GXID").
const firstGXID = 1

// state is everything the log records; replay rebuilds it and compaction writes
// it back out. It is not safe for concurrent use; the Server guards each part.
type state struct {
	gxidReserved uint64 // ids below this may have been used
	decisions    map[string]gtmproto.Decision
	catalogEpoch uint64
	seqs         map[string]seqState
	generation   uint64
	claims       map[string]string
	records      map[string]string
}

func newState() *state {
	return &state{gxidReserved: firstGXID, decisions: map[string]gtmproto.Decision{}, seqs: map[string]seqState{}, claims: map[string]string{}, records: map[string]string{}}
}

// clone is a deep copy (decision participant lists are never modified, so shared).
func (st *state) clone() *state {
	c := *st
	c.decisions = make(map[string]gtmproto.Decision, len(st.decisions))
	for k, v := range st.decisions {
		c.decisions[k] = v
	}
	c.seqs = make(map[string]seqState, len(st.seqs))
	for k, v := range st.seqs {
		c.seqs[k] = v
	}
	c.claims = maps.Clone(st.claims)
	c.records = maps.Clone(st.records)
	return &c
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
	case recSeq:
		def := d.SeqDef()
		last := d.Varint()
		called := d.Bool()
		if err := d.Finish(); err != nil {
			return err
		}
		st.seqs[def.Name] = seqState{def: def, last: last, isCalled: called}
	case recClaim:
		key := d.String(gtmproto.MaxClaimLen)
		value := d.String(gtmproto.MaxClaimLen)
		if err := d.Finish(); err != nil {
			return err
		}
		if _, ok := st.claims[key]; !ok {
			st.claims[key] = value
		}
	case recPut:
		key := d.String(gtmproto.MaxClaimLen)
		value := d.String(gtmproto.MaxClaimLen)
		if err := d.Finish(); err != nil {
			return err
		}
		if value == "" {
			delete(st.records, key)
		} else {
			st.records[key] = value
		}
	case recSeqDrop:
		name := d.String(gtmproto.MaxSeqNameLen)
		if err := d.Finish(); err != nil {
			return err
		}
		delete(st.seqs, name)
	case recSeqRename:
		from := d.String(gtmproto.MaxSeqNameLen)
		to := d.String(gtmproto.MaxSeqNameLen)
		if err := d.Finish(); err != nil {
			return err
		}
		if q, ok := st.seqs[from]; ok {
			delete(st.seqs, from)
			q.def.Name = to
			st.seqs[to] = q
		}
	case recGeneration:
		g := d.Uvarint()
		if err := d.Finish(); err != nil {
			return err
		}
		st.generation = max(st.generation, g)
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
	e = gtmproto.Encoder{}
	out = appendRecord(out, recGeneration, e.Uvarint(st.generation).Bytes())
	gids := make([]string, 0, len(st.decisions))
	for gid := range st.decisions {
		gids = append(gids, gid)
	}
	sort.Strings(gids)
	for _, gid := range gids {
		e = gtmproto.Encoder{}
		out = appendRecord(out, recDecision, e.Decision(st.decisions[gid]).Bytes())
	}
	names := make([]string, 0, len(st.seqs))
	for name := range st.seqs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		out = appendRecord(out, recSeq, encodeSeq(st.seqs[name]))
	}
	for _, key := range slices.Sorted(maps.Keys(st.claims)) {
		e = gtmproto.Encoder{}
		out = appendRecord(out, recClaim, e.String(key).String(st.claims[key]).Bytes())
	}
	for _, key := range slices.Sorted(maps.Keys(st.records)) {
		e = gtmproto.Encoder{}
		out = appendRecord(out, recPut, e.String(key).String(st.records[key]).Bytes())
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
