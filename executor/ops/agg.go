package ops

import (
	"context"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// AggKind is an aggregate's final step over per-datanode partial results.
type AggKind int

const (
	// AggCount sums text int8 partial counts: int8, 0 over no rows.
	AggCount AggKind = iota
	// AggSumInt8 sums text int8 partial sums (NULL: no rows on that
	// node): int8, NULL if all are NULL.
	AggSumInt8
	// AggSumNumeric sums text numeric partial sums: numeric, NULL if all
	// are NULL.
	AggSumNumeric
	// AggMin and AggMax give the value of Col whose binary copy KeyCol is
	// least or greatest, ignoring NULLs.
	AggMin
	AggMax
	// AggBoolAnd and AggBoolOr combine text bools, ignoring NULLs: NULL if
	// all are NULL.
	AggBoolAnd
	AggBoolOr
	// AggCountRows counts the group's rows (count(*) over rows that are
	// not partial results, such as a join's); Col is not read.
	AggCountRows
)

// AggSpec is one aggregate of NewAgg.
type AggSpec struct {
	Kind AggKind
	// Col is the input column of the partial results.
	Col int
	// KeyCol is, for AggMin and AggMax, the binary copy of Col that
	// orders the values.
	KeyCol int
	// Name names the output column.
	Name string
}

// NewAgg is the final step of a two-phase aggregation: it groups the
// partial results by the binary columns groupKeys (NULLs in one group)
// and gives for each group, in the order first seen, the columns groupOut
// of its first row then one text column per aggregate (AggMin and AggMax:
// the column Col as it is). Without groupKeys it gives exactly one row,
// even for no input. It keeps at most maxBytes of groups (<= 0: no limit).
func NewAgg(input Op, groupKeys []int, groupOut []int, aggs []AggSpec, maxBytes int64) Op {
	return &agg{in: newInputs(input), groupKeys: groupKeys, groupOut: groupOut, aggs: aggs, max: maxBytes}
}

type agg struct {
	in        inputs
	groupKeys []int
	groupOut  []int
	aggs      []AggSpec
	max       int64

	width  int
	keys   keyCols
	codecs []keyCodec // per aggregate, AggMin and AggMax: KeyCol's
	fields []Field

	groups []*aggGroup // nil until read
	next   int
}

type aggGroup struct {
	out    Row // groupOut of the first row
	states []accumulator
}

// accumulator is one aggregate's state in one group.
type accumulator interface {
	// add takes a row's partial result, counting against b what it keeps.
	add(r Row, b *budget) error
	result() []byte
}

// stateOverhead approximates what an accumulator costs.
const stateOverhead = 64

func (a *agg) Open(ctx context.Context) error {
	if err := a.in.openAll(ctx); err != nil {
		return err
	}
	if err := a.init(a.in.ops[0].Fields()); err != nil {
		return a.in.fail(err)
	}
	a.groups, a.next = nil, 0
	return nil
}

func (a *agg) init(in []Field) error {
	a.width = len(in)
	var err error
	if a.keys, err = newKeyCols(in, a.groupKeys); err != nil {
		return err
	}
	a.fields = make([]Field, 0, len(a.groupOut)+len(a.aggs))
	for _, c := range a.groupOut {
		if c < 0 || c >= len(in) {
			return fmt.Errorf("ops: group column %d out of range (%d columns)", c, len(in))
		}
		a.fields = append(a.fields, in[c])
	}
	a.codecs = make([]keyCodec, len(a.aggs))
	for i, s := range a.aggs {
		if s.Col < 0 || s.Col >= len(in) {
			return fmt.Errorf("ops: aggregate %q: column %d out of range (%d columns)", s.Name, s.Col, len(in))
		}
		f := Field{Name: []byte(s.Name), TypeModifier: -1}
		switch s.Kind {
		case AggCount, AggSumInt8, AggCountRows:
			f.DataTypeOID, f.DataTypeSize = oidInt8, 8
		case AggSumNumeric:
			f.DataTypeOID, f.DataTypeSize = oidNumeric, -1
		case AggBoolAnd, AggBoolOr:
			f.DataTypeOID, f.DataTypeSize = oidBool, 1
		case AggMin, AggMax:
			if s.KeyCol < 0 || s.KeyCol >= len(in) {
				return fmt.Errorf("ops: aggregate %q: key column %d out of range (%d columns)", s.Name, s.KeyCol, len(in))
			}
			if a.codecs[i], err = keyFor(in[s.KeyCol]); err != nil {
				return err
			}
			a.fields = append(a.fields, in[s.Col])
			continue
		default:
			return fmt.Errorf("ops: aggregate %q: unknown kind %d", s.Name, s.Kind)
		}
		if in[s.Col].Format != 0 && s.Kind != AggCountRows {
			return fmt.Errorf("ops: aggregate %q: partial results in column %d are not text", s.Name, s.Col)
		}
		a.fields = append(a.fields, f)
	}
	return nil
}

func (a *agg) Fields() []Field { return a.fields }
func (a *agg) Close() error    { return a.in.closeAll() }

func (a *agg) newGroup(first Row) *aggGroup {
	g := &aggGroup{out: make(Row, len(a.groupOut)), states: make([]accumulator, len(a.aggs))}
	if first != nil {
		for i, c := range a.groupOut {
			g.out[i] = first[c]
		}
	}
	for i, s := range a.aggs {
		switch s.Kind {
		case AggCount:
			g.states[i] = &intSum{spec: s}
		case AggCountRows:
			g.states[i] = &rowCount{}
		case AggSumInt8:
			g.states[i] = &intSum{spec: s, nullIfNone: true}
		case AggSumNumeric:
			g.states[i] = &numericSum{spec: s, sum: new(big.Int)}
		case AggMin, AggMax:
			g.states[i] = &minMax{spec: s, codec: a.codecs[i]}
		case AggBoolAnd, AggBoolOr:
			g.states[i] = &boolAgg{spec: s}
		}
	}
	return g
}

// read reads the input whole into groups.
func (a *agg) read(ctx context.Context) error {
	b := budget{max: a.max}
	index := map[string]*aggGroup{}
	a.groups = []*aggGroup{}
	var t ticker
	for {
		r, err := a.in.ops[0].Next(ctx)
		if err != nil {
			return err
		}
		if r == nil {
			break
		}
		if err := a.keys.check(r); err != nil {
			return err
		}
		k, _ := a.keys.hashKey(r)
		g := index[k]
		if g == nil {
			g = a.newGroup(r)
			index[k] = g
			a.groups = append(a.groups, g)
			if err := b.add(int64(len(k)+mapEntryOverhead) + rowBytes(g.out) + int64(stateOverhead*len(g.states))); err != nil {
				return err
			}
		}
		for _, s := range g.states {
			if err := s.add(r, &b); err != nil {
				return err
			}
		}
		if err := t.check(ctx); err != nil {
			return err
		}
	}
	if len(a.groups) == 0 && len(a.groupKeys) == 0 {
		a.groups = append(a.groups, a.newGroup(nil))
	}
	return a.in.close(0)
}

func (a *agg) Next(ctx context.Context) (Row, error) {
	if a.groups == nil {
		if err := a.read(ctx); err != nil {
			return nil, err
		}
	}
	if a.next == len(a.groups) {
		return nil, nil
	}
	g := a.groups[a.next]
	a.groups[a.next] = nil
	a.next++
	r := make(Row, 0, len(g.out)+len(g.states))
	r = append(r, g.out...)
	for _, s := range g.states {
		r = append(r, s.result())
	}
	return r, nil
}

func badPartial(s AggSpec, v []byte) error {
	return fmt.Errorf("ops: aggregate %q: bad partial result %q", s.Name, v)
}

// intSum sums int8 partials (counts or sums).
// rowCount counts rows.
type rowCount struct{ n int64 }

func (c *rowCount) add(Row, *budget) error { c.n++; return nil }
func (c *rowCount) result() []byte         { return strconv.AppendInt(nil, c.n, 10) }

type intSum struct {
	spec       AggSpec
	nullIfNone bool
	sum        int64
	seen       bool
}

func (s *intSum) add(r Row, _ *budget) error {
	v := r[s.spec.Col]
	if v == nil {
		return nil
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		return badPartial(s.spec, v)
	}
	if (n > 0 && s.sum > math.MaxInt64-n) || (n < 0 && s.sum < math.MinInt64-n) {
		return &pgconn.PgError{Severity: "ERROR", Code: "22003", Message: "bigint out of range"}
	}
	s.sum += n
	s.seen = true
	return nil
}

func (s *intSum) result() []byte {
	if !s.seen && s.nullIfNone {
		return nil
	}
	return strconv.AppendInt(nil, s.sum, 10)
}

// numericSum sums numeric partials exactly, as numeric_sum does: the
// result has the largest display scale of the partials, and NaN or an
// infinity wins over finite values.
type numericSum struct {
	spec            AggSpec
	seen            bool
	nan, pInf, nInf bool
	sum             *big.Int // sum·10^-scale is the finite sum
	scale           int
}

func (s *numericSum) add(r Row, _ *budget) error {
	v := r[s.spec.Col]
	if v == nil {
		return nil
	}
	s.seen = true
	switch t := string(v); {
	case strings.EqualFold(t, "NaN"):
		s.nan = true
	case strings.EqualFold(t, "Infinity") || strings.EqualFold(t, "+Infinity"):
		s.pInf = true
	case strings.EqualFold(t, "-Infinity"):
		s.nInf = true
	default:
		n, scale, ok := parseDecimal(t)
		if !ok {
			return badPartial(s.spec, v)
		}
		switch {
		case scale > s.scale:
			s.sum.Mul(s.sum, pow10(scale-s.scale))
			s.scale = scale
		case scale < s.scale:
			n.Mul(n, pow10(s.scale-scale))
		}
		s.sum.Add(s.sum, n)
	}
	return nil
}

func (s *numericSum) result() []byte {
	switch {
	case !s.seen:
		return nil
	case s.nan || (s.pInf && s.nInf):
		return []byte("NaN")
	case s.pInf:
		return []byte("Infinity")
	case s.nInf:
		return []byte("-Infinity")
	}
	return formatDecimal(s.sum, s.scale)
}

// parseDecimal reads numeric_out's form of a finite value, [-]digits[.digits],
// as n·10^-scale.
func parseDecimal(t string) (n *big.Int, scale int, ok bool) {
	neg := false
	if t != "" && (t[0] == '-' || t[0] == '+') {
		neg, t = t[0] == '-', t[1:]
	}
	whole, frac, _ := strings.Cut(t, ".")
	digits := whole + frac
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		return nil, 0, false
	}
	n, _ = new(big.Int).SetString(digits, 10)
	if neg {
		n.Neg(n)
	}
	return n, len(frac), true
}

// formatDecimal writes n·10^-scale with scale decimals, as numeric_out.
func formatDecimal(n *big.Int, scale int) []byte {
	digits := new(big.Int).Abs(n).String()
	if len(digits) <= scale {
		digits = strings.Repeat("0", scale-len(digits)+1) + digits
	}
	var b []byte
	if n.Sign() < 0 {
		b = append(b, '-')
	}
	b = append(b, digits[:len(digits)-scale]...)
	if scale > 0 {
		b = append(append(b, '.'), digits[len(digits)-scale:]...)
	}
	return b
}

func pow10(k int) *big.Int { return new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(k)), nil) }

// minMax keeps the least or greatest value by its binary copy. Of equal
// values it keeps the first seen.
type minMax struct {
	spec     AggSpec
	codec    keyCodec
	val, key []byte
}

func (m *minMax) add(r Row, b *budget) error {
	k := r[m.spec.KeyCol]
	if k == nil {
		return nil
	}
	if err := m.codec.check(k); err != nil {
		return err
	}
	if m.key != nil {
		c := m.codec.cmp(k, m.key)
		if m.spec.Kind == AggMax {
			c = -c
		}
		if c >= 0 {
			return nil
		}
	}
	v := r[m.spec.Col]
	if err := b.add(int64(len(v) + len(k) - len(m.val) - len(m.key))); err != nil {
		return err
	}
	m.val, m.key = v, k
	return nil
}

func (m *minMax) result() []byte { return m.val }

// boolAgg is bool_and or bool_or.
type boolAgg struct {
	spec AggSpec
	seen bool
	v    bool
}

func (a *boolAgg) add(r Row, _ *budget) error {
	var v bool
	switch t := r[a.spec.Col]; string(t) {
	case "t", "true":
		v = true
	case "f", "false":
	default:
		if t == nil {
			return nil
		}
		return badPartial(a.spec, t)
	}
	if !a.seen {
		a.v, a.seen = v, true
	} else if a.spec.Kind == AggBoolAnd {
		a.v = a.v && v
	} else {
		a.v = a.v || v
	}
	return nil
}

func (a *boolAgg) result() []byte {
	switch {
	case !a.seen:
		return nil
	case a.v:
		return []byte("t")
	}
	return []byte("f")
}
