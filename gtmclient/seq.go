package gtmclient

import (
	"context"
	"fmt"
	"math"
	"sync"

	"github.com/xlgo/xlgo/gtm/gtmproto"
)

// SeqField names a part of a sequence definition that SeqAlter changes.
type SeqField = gtmproto.SeqField

// Parts of a sequence definition for SeqDef.Fields.
const (
	SeqStart       = gtmproto.SeqFieldStart       // START WITH
	SeqIncrement   = gtmproto.SeqFieldIncrement   // INCREMENT BY
	SeqMinValue    = gtmproto.SeqFieldMinValue    // MINVALUE / NO MINVALUE
	SeqMaxValue    = gtmproto.SeqFieldMaxValue    // MAXVALUE / NO MAXVALUE
	SeqCycle       = gtmproto.SeqFieldCycle       // [NO] CYCLE
	SeqRestart     = gtmproto.SeqFieldRestart     // RESTART (at the start value)
	SeqRestartWith = gtmproto.SeqFieldRestartWith // RESTART WITH RestartWith
)

// SeqDef is a global sequence's definition. Name is opaque to the GTM
// (coordinators use "database.schema.name"); every numeric field is taken as
// given, so fill in PostgreSQL's defaults (NewSeqDef) before changing some.
type SeqDef struct {
	Name      string
	Start     int64
	Increment int64
	MinValue  int64
	MaxValue  int64
	Cycle     bool

	// IfNotExists (SeqCreate): an existing sequence of that name is no error.
	IfNotExists bool
	// IfExists (SeqAlter): a missing sequence is no error.
	IfExists bool
	// Fields (SeqAlter): the parts that change; 0 means Start, Increment,
	// MinValue, MaxValue and Cycle, without a restart.
	Fields SeqField
	// RestartWith (SeqAlter with SeqRestartWith): the value to restart at.
	RestartWith int64
}

// NewSeqDef returns PostgreSQL's defaults for an ascending bigint sequence:
// START 1, INCREMENT 1, MINVALUE 1, MAXVALUE 9223372036854775807, NO CYCLE.
func NewSeqDef(name string) SeqDef {
	return SeqDef{Name: name, Start: 1, Increment: 1, MinValue: 1, MaxValue: math.MaxInt64}
}

func (d SeqDef) wire() gtmproto.SeqDef {
	return gtmproto.SeqDef{Name: d.Name, Start: d.Start, Increment: d.Increment, MinValue: d.MinValue, MaxValue: d.MaxValue, Cycle: d.Cycle}
}

// SeqStatus is a sequence's definition and where it stands (as pg_sequences shows).
type SeqStatus struct {
	SeqDef
	// Last is the last value handed out when IsCalled, else the next one.
	Last     int64
	IsCalled bool
}

// SeqCreate creates a global sequence (SQLSTATE 42P07 if it exists, 22023 for
// a definition PostgreSQL would refuse).
func (c *Client) SeqCreate(ctx context.Context, def SeqDef) error {
	var e gtmproto.Encoder
	e.SeqDef(def.wire()).Bool(def.IfNotExists)
	d, err := c.call(ctx, gtmproto.MsgSeqCreate, e.Bytes())
	if err != nil {
		return err
	}
	return finish(d, "SeqCreate")
}

// SeqDrop drops a global sequence (42P01 if it does not exist, unless ifExists).
func (c *Client) SeqDrop(ctx context.Context, name string, ifExists bool) error {
	var e gtmproto.Encoder
	d, err := c.call(ctx, gtmproto.MsgSeqDrop, e.String(name).Bool(ifExists).Bytes())
	if err != nil {
		return err
	}
	return finish(d, "SeqDrop")
}

// SeqAlter changes the parts of def.Name's definition named by def.Fields.
func (c *Client) SeqAlter(ctx context.Context, def SeqDef) error {
	fields := def.Fields
	if fields == 0 {
		fields = SeqStart | SeqIncrement | SeqMinValue | SeqMaxValue | SeqCycle
	}
	var e gtmproto.Encoder
	e.String(def.Name).Uvarint(uint64(fields)).SeqDef(def.wire()).Varint(def.RestartWith).Bool(def.IfExists)
	d, err := c.call(ctx, gtmproto.MsgSeqAlter, e.Bytes())
	if err != nil {
		return err
	}
	return finish(d, "SeqAlter")
}

// SeqNextRange reserves up to count values of a sequence: first, first+incr,
// ..., n values in all (fewer than count at the sequence's bound). The GTM
// never hands any of them out again, also after a restart or a failover.
// At the bound without CYCLE it fails with SQLSTATE 2200H.
func (c *Client) SeqNextRange(ctx context.Context, name string, count int64) (first, n, incr int64, err error) {
	var e gtmproto.Encoder
	d, err := c.call(ctx, gtmproto.MsgSeqNextRange, e.String(name).Varint(count).Bytes())
	if err != nil {
		return 0, 0, 0, err
	}
	first, n, incr = d.Varint(), d.Varint(), d.Varint()
	if err := finish(d, "SeqNextRange"); err != nil {
		return 0, 0, 0, err
	}
	if n < 1 || n > count || incr == 0 {
		return 0, 0, 0, fmt.Errorf("gtm SeqNextRange response: %d values by %d for a request of %d", n, incr, count)
	}
	return first, n, incr, nil
}

// SeqSetval sets a sequence as setval(name, v, isCalled) does (22003 when v is
// outside its bounds).
func (c *Client) SeqSetval(ctx context.Context, name string, v int64, isCalled bool) error {
	var e gtmproto.Encoder
	d, err := c.call(ctx, gtmproto.MsgSeqSetval, e.String(name).Varint(v).Bool(isCalled).Bytes())
	if err != nil {
		return err
	}
	return finish(d, "SeqSetval")
}

// SeqRename renames a sequence (42P01 if from is missing, 42P07 if to exists).
func (c *Client) SeqRename(ctx context.Context, from, to string) error {
	var e gtmproto.Encoder
	d, err := c.call(ctx, gtmproto.MsgSeqRename, e.String(from).String(to).Bytes())
	if err != nil {
		return err
	}
	return finish(d, "SeqRename")
}

// SeqCurrent returns a sequence's definition and its last value.
func (c *Client) SeqCurrent(ctx context.Context, name string) (SeqStatus, error) {
	var e gtmproto.Encoder
	d, err := c.call(ctx, gtmproto.MsgSeqCurrent, e.String(name).Bytes())
	if err != nil {
		return SeqStatus{}, err
	}
	def := d.SeqDef()
	st := SeqStatus{
		SeqDef: SeqDef{Name: def.Name, Start: def.Start, Increment: def.Increment, MinValue: def.MinValue, MaxValue: def.MaxValue, Cycle: def.Cycle},
		Last:   d.Varint(), IsCalled: d.Bool(),
	}
	return st, finish(d, "SeqCurrent")
}

// DefaultSeqCacheSize is how many values a SeqCache fetches at a time.
const DefaultSeqCacheSize = 100

// SeqCache hands out sequence values from ranges reserved at the GTM, one
// range per sequence at a time, so most nextval calls need no round trip.
// Values of a range that is forgotten or left when the process ends are never
// used (as with PostgreSQL's CACHE). Safe for concurrent use.
type SeqCache struct {
	c    *Client
	size int64

	mu   sync.Mutex
	seqs map[string]*cachedRange
}

// cachedRange is the unused rest of one sequence's range; mu is held while
// fetching, so concurrent callers of one sequence share a fetch.
type cachedRange struct {
	mu   sync.Mutex
	next int64
	left int64
	incr int64
}

// NewSeqCache returns a cache fetching size values at a time (DefaultSeqCacheSize when size < 1).
func NewSeqCache(c *Client, size int64) *SeqCache {
	if size < 1 {
		size = DefaultSeqCacheSize
	}
	return &SeqCache{c: c, size: size, seqs: map[string]*cachedRange{}}
}

// Size is how many values the cache fetches at a time.
func (sc *SeqCache) Size() int64 { return sc.size }

// Next returns the next value of sequence name, fetching a new range when the
// cached one is used up.
func (sc *SeqCache) Next(ctx context.Context, name string) (int64, error) {
	sc.mu.Lock()
	r := sc.seqs[name]
	if r == nil {
		r = &cachedRange{}
		sc.seqs[name] = r
	}
	sc.mu.Unlock()

	r.mu.Lock()
	defer r.mu.Unlock()
	if r.left == 0 {
		first, n, incr, err := sc.c.SeqNextRange(ctx, name, sc.size)
		if err != nil {
			return 0, err
		}
		r.next, r.left, r.incr = first, n, incr
		sc.mu.Lock()
		if sc.seqs[name] != r {
			// Forgotten while fetching: hand out this value only, keep nothing.
			r.left = 1
		}
		sc.mu.Unlock()
	}
	v := r.next
	r.left--
	if r.left > 0 {
		r.next += r.incr
	}
	return v, nil
}

// Forget drops what is cached for name (after DROP, ALTER, RENAME or setval),
// so the next value comes from the GTM.
func (sc *SeqCache) Forget(name string) {
	sc.mu.Lock()
	r := sc.seqs[name]
	delete(sc.seqs, name)
	sc.mu.Unlock()
	if r != nil {
		r.mu.Lock()
		r.left = 0
		r.mu.Unlock()
	}
}
