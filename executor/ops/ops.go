// Package ops holds the coordinator's executor primitives: operators that
// take streams of rows and give streams of rows (merge, sort, limit,
// distinct, project, joins, final aggregation, windows, sub-plans). They
// never touch a datanode: the executor feeds them the rows of remote
// queries.
//
// Values travel as PostgreSQL sends them: each column in the text or the
// binary format its Field says. Columns an operator compares or hashes
// (sort keys, join keys, group keys, distinct keys) are binary: their
// order and equality follow PostgreSQL's own comparison functions for the
// type (see key.go); text columns are only carried.
package ops

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// Row is one row: a value per column, nil for NULL. An operator may keep
// the rows it is given; a row it returns may be kept by its caller.
type Row = [][]byte

// Field describes one column.
type Field = pgproto3.FieldDescription

// Op is a stream of rows.
type Op interface {
	// Open starts the stream (and its inputs'); Fields is valid after it.
	Open(ctx context.Context) error
	// Fields describes the columns of the rows Next returns.
	Fields() []Field
	// Next returns the next row, or nil at the end.
	Next(ctx context.Context) (Row, error)
	// Close ends the stream early or after its end; it closes the inputs.
	//
	// The operators of this package may be closed more than once, and
	// after a failed Open (which has already closed what it opened); they
	// close only the inputs they opened.
	Close() error
}

// SortKey is one key of an ordering: a binary column of the input.
type SortKey struct {
	Col        int
	Desc       bool
	NullsFirst bool
}

// inputs are an operator's inputs: each is closed once, and only if it
// was opened.
type inputs struct {
	ops  []Op
	open []bool
}

func newInputs(ops ...Op) inputs { return inputs{ops: ops, open: make([]bool, len(ops))} }

// openAll opens the inputs in order; when one fails it closes the others.
func (in *inputs) openAll(ctx context.Context) error {
	for i, op := range in.ops {
		if err := op.Open(ctx); err != nil {
			return errors.Join(err, in.closeAll())
		}
		in.open[i] = true
	}
	return nil
}

// openIn opens the inputs in the order given (a join opens its inner input
// first); when one fails it closes the others.
func (in *inputs) openIn(ctx context.Context, order ...int) error {
	for _, i := range order {
		if err := in.ops[i].Open(ctx); err != nil {
			return errors.Join(err, in.closeAll())
		}
		in.open[i] = true
	}
	return nil
}

// fail closes the inputs when Open fails after opening them.
func (in *inputs) fail(err error) error { return errors.Join(err, in.closeAll()) }

// close closes input i if it is open: early, when its rows are no longer
// needed, or at the end.
func (in *inputs) close(i int) error {
	if !in.open[i] {
		return nil
	}
	in.open[i] = false
	return in.ops[i].Close()
}

func (in *inputs) closeAll() error {
	var errs []error
	for i := range in.ops {
		errs = append(errs, in.close(i))
	}
	return errors.Join(errs...)
}

// budget counts the bytes of the rows an operator keeps.
type budget struct {
	max  int64 // <= 0: no limit
	used int64
}

// add counts n more bytes (or n fewer when negative).
func (b *budget) add(n int64) error {
	b.used += n
	if b.max > 0 && b.used > b.max {
		return GatherLimit(b.max)
	}
	return nil
}

// GatherLimit is the error of a query that needs more than max bytes of
// rows held at the coordinator (54000, program_limit_exceeded).
func GatherLimit(max int64) error {
	return &pgconn.PgError{Severity: "ERROR", Code: "54000",
		Message: fmt.Sprintf("query needs more than %d bytes of rows at the coordinator", max),
		Hint:    "The coordinator's --max-gather-bytes sets this bound: raise it, or let the datanodes filter or aggregate more of the rows."}
}

// valueOverhead approximates what holding a value costs beyond its bytes
// (a slice header).
const valueOverhead = 24

// rowBytes is what keeping a row costs.
func rowBytes(r Row) int64 {
	n := int64(valueOverhead * (len(r) + 1))
	for _, v := range r {
		n += int64(len(v))
	}
	return n
}

// checkEvery is how many rows an operator may handle between two looks
// at its context.
const checkEvery = 1024

// ticker tells an operator when to look at its context.
type ticker uint

func (t *ticker) check(ctx context.Context) error {
	if *t++; *t%checkEvery == 0 {
		return ctx.Err()
	}
	return nil
}

// concatRows is a row of the values of a then those of b.
func concatRows(a, b Row) Row {
	r := make(Row, 0, len(a)+len(b))
	return append(append(r, a...), b...)
}
