package ops

import (
	"context"
	"fmt"
)

// JoinKind is the kind of a join.
type JoinKind int

const (
	JoinInner JoinKind = iota
	JoinLeft
	JoinRight
	JoinFull
	JoinSemi // the left rows with a match, once each
	JoinAnti // the left rows without a match
)

func (k JoinKind) String() string {
	switch k {
	case JoinInner:
		return "Inner"
	case JoinLeft:
		return "Left"
	case JoinRight:
		return "Right"
	case JoinFull:
		return "Full"
	case JoinSemi:
		return "Semi"
	case JoinAnti:
		return "Anti"
	}
	return fmt.Sprintf("JoinKind(%d)", int(k))
}

// NewHashJoin joins left and right on the equality of the binary columns
// leftKeys and rightKeys (pairwise; types of one family, see key.go). It
// reads the right input whole into a hash table, keeping at most maxBytes
// of rows (<= 0: no limit), then streams the left one. A NULL key never
// matches.
//
// Rows are the left columns then the right ones (Semi, Anti: the left
// only), in the order of the left input and, for each left row, of the
// right input. Left and Full give each unmatched left row with NULL right
// columns; Right and Full then give each unmatched right row with NULL
// left columns, in right input order.
func NewHashJoin(left, right Op, kind JoinKind, leftKeys, rightKeys []int, maxBytes int64) Op {
	return &join{in: newInputs(left, right), kind: kind, max: maxBytes,
		m: &hashMatcher{leftCols: leftKeys, rightCols: rightKeys}}
}

// NewNestedLoop joins left and right where pred holds (always when pred is
// nil: a cross join). It reads the right input whole, keeping at most
// maxBytes of rows (<= 0: no limit), then streams the left one, trying
// each left row with each right row. Rows are as NewHashJoin gives them.
func NewNestedLoop(left, right Op, kind JoinKind, pred func(l, r Row) (bool, error), maxBytes int64) Op {
	return &join{in: newInputs(left, right), kind: kind, max: maxBytes, m: &loopMatcher{pred: pred}}
}

// matcher finds the right rows that match a left row.
type matcher interface {
	// open takes the inputs' fields once they are open.
	open(left, right []Field) error
	// checkRight rejects a right row the matcher cannot read.
	checkRight(r Row) error
	// build takes all the right rows; what it keeps beyond them it counts.
	build(right []Row, b *budget) error
	// candidates are the indexes of the right rows that may match l,
	// which it checks first.
	candidates(l Row) ([]int, error)
	// match tells whether a candidate matches.
	match(l, r Row) (bool, error)
}

type join struct {
	in     inputs // left, right
	kind   JoinKind
	max    int64
	m      matcher
	fields []Field
	// nullLeft and nullRight are rows of NULLs of each side's width.
	nullLeft, nullRight Row

	built   bool
	right   []Row
	matched []bool // per right row, for Right and Full

	// The left row being joined, its candidates and how far they are
	// tried.
	cur        Row
	cands      []int
	pos        int
	curMatched bool

	leftDone bool
	tail     int // the next right row to try as unmatched
}

func (j *join) Open(ctx context.Context) error {
	if j.kind < JoinInner || j.kind > JoinAnti {
		return fmt.Errorf("ops: unknown join kind %d", int(j.kind))
	}
	// The inner input first: when both read the same connection, the one
	// opened first is the one read to its end first.
	if err := j.in.openIn(ctx, 1, 0); err != nil {
		return err
	}
	lf, rf := j.in.ops[0].Fields(), j.in.ops[1].Fields()
	if err := j.m.open(lf, rf); err != nil {
		return j.in.fail(err)
	}
	j.fields = append([]Field(nil), lf...)
	if j.kind != JoinSemi && j.kind != JoinAnti {
		j.fields = append(j.fields, rf...)
	}
	j.nullLeft, j.nullRight = make(Row, len(lf)), make(Row, len(rf))
	j.built, j.right, j.matched = false, nil, nil
	j.cur, j.leftDone, j.tail = nil, false, 0
	return nil
}

func (j *join) Fields() []Field { return j.fields }
func (j *join) Close() error    { return j.in.closeAll() }

// build reads the right input.
func (j *join) build(ctx context.Context) error {
	b := budget{max: j.max}
	rows, err := readAll(ctx, &j.in, 1, &b, j.m.checkRight)
	if err != nil {
		return err
	}
	if err := j.m.build(rows, &b); err != nil {
		return err
	}
	j.right = rows
	if j.kind == JoinRight || j.kind == JoinFull {
		j.matched = make([]bool, len(rows))
	}
	if len(rows) == 0 && (j.kind == JoinInner || j.kind == JoinSemi || j.kind == JoinRight) {
		// Nothing can come of the left rows.
		j.leftDone = true
		return j.in.close(0)
	}
	return nil
}

func (j *join) Next(ctx context.Context) (Row, error) {
	if !j.built {
		if err := j.build(ctx); err != nil {
			return nil, err
		}
		j.built = true
	}
	var t ticker
	for {
		if err := t.check(ctx); err != nil {
			return nil, err
		}
		if j.cur != nil {
			if r, ok, err := j.step(); ok || err != nil {
				return r, err
			}
			continue
		}
		if !j.leftDone {
			l, err := j.in.ops[0].Next(ctx)
			if err != nil {
				return nil, err
			}
			if l == nil {
				j.leftDone = true
				if err := j.in.close(0); err != nil {
					return nil, err
				}
				continue
			}
			if j.cands, err = j.m.candidates(l); err != nil {
				return nil, err
			}
			j.cur, j.pos, j.curMatched = l, 0, false
			continue
		}
		if j.matched != nil {
			for j.tail < len(j.right) {
				i := j.tail
				j.tail++
				if !j.matched[i] {
					return concatRows(j.nullLeft, j.right[i]), nil
				}
			}
		}
		return nil, nil
	}
}

// step tries the next candidate of the current left row; ok tells that it
// gives a row. The left row is done (cur nil) once its candidates are.
func (j *join) step() (r Row, ok bool, err error) {
	if j.pos < len(j.cands) {
		i := j.cands[j.pos]
		j.pos++
		m, err := j.m.match(j.cur, j.right[i])
		if !m || err != nil {
			return nil, false, err
		}
		j.curMatched = true
		if j.matched != nil {
			j.matched[i] = true
		}
		switch j.kind {
		case JoinSemi:
			l := j.cur
			j.cur = nil
			return l, true, nil
		case JoinAnti:
			j.cur = nil
			return nil, false, nil
		}
		return concatRows(j.cur, j.right[i]), true, nil
	}
	l := j.cur
	j.cur = nil
	if !j.curMatched {
		switch j.kind {
		case JoinLeft, JoinFull:
			return concatRows(l, j.nullRight), true, nil
		case JoinAnti:
			return l, true, nil
		}
	}
	return nil, false, nil
}

// hashMatcher matches rows on key equality through a hash table of the
// right rows.
type hashMatcher struct {
	leftCols, rightCols []int
	left, right         keyCols
	table               map[string][]int
}

func (h *hashMatcher) open(left, right []Field) error {
	if len(h.leftCols) != len(h.rightCols) {
		return fmt.Errorf("ops: hash join of %d left keys with %d right keys", len(h.leftCols), len(h.rightCols))
	}
	var err error
	if h.left, err = newKeyCols(left, h.leftCols); err != nil {
		return err
	}
	if h.right, err = newKeyCols(right, h.rightCols); err != nil {
		return err
	}
	for i := range h.left.codecs {
		if lc, rc := h.left.codecs[i], h.right.codecs[i]; lc.family != rc.family {
			return fmt.Errorf("ops: hash join key %d: types %d and %d cannot be compared at the coordinator", i, lc.oid, rc.oid)
		}
	}
	return nil
}

func (h *hashMatcher) checkRight(r Row) error { return h.right.check(r) }

func (h *hashMatcher) build(right []Row, b *budget) error {
	h.table = map[string][]int{}
	for i, r := range right {
		k, hasNull := h.right.hashKey(r)
		if hasNull {
			continue // it matches nothing; Right and Full still give it
		}
		n := int64(8) // the index
		if _, ok := h.table[k]; !ok {
			n += int64(len(k) + mapEntryOverhead)
		}
		if err := b.add(n); err != nil {
			return err
		}
		h.table[k] = append(h.table[k], i)
	}
	return nil
}

func (h *hashMatcher) candidates(l Row) ([]int, error) {
	if err := h.left.check(l); err != nil {
		return nil, err
	}
	k, hasNull := h.left.hashKey(l)
	if hasNull {
		return nil, nil // a NULL key matches nothing
	}
	return h.table[k], nil
}

func (h *hashMatcher) match(l, r Row) (bool, error) { return true, nil }

// loopMatcher tries every right row with pred.
type loopMatcher struct {
	pred                  func(l, r Row) (bool, error)
	leftWidth, rightWidth int
	all                   []int // every right row's index
}

func (m *loopMatcher) open(left, right []Field) error {
	m.leftWidth, m.rightWidth = len(left), len(right)
	return nil
}

func (m *loopMatcher) checkRight(r Row) error { return checkWidth(r, m.rightWidth) }

func (m *loopMatcher) build(right []Row, b *budget) error {
	m.all = make([]int, len(right))
	for i := range m.all {
		m.all[i] = i
	}
	return b.add(int64(8 * len(m.all)))
}

func (m *loopMatcher) candidates(l Row) ([]int, error) {
	if err := checkWidth(l, m.leftWidth); err != nil {
		return nil, err
	}
	return m.all, nil
}

func (m *loopMatcher) match(l, r Row) (bool, error) {
	if m.pred == nil {
		return true, nil
	}
	return m.pred(l, r)
}

func checkWidth(r Row, width int) error {
	if len(r) != width {
		return fmt.Errorf("ops: row of %d columns, expected %d", len(r), width)
	}
	return nil
}
