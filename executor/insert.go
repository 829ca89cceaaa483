package executor

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/xlgo/xlgo/dialect"
	"github.com/xlgo/xlgo/distribution"
	"github.com/xlgo/xlgo/pgerr"
	"github.com/xlgo/xlgo/planner"
)

// insertBatch is how many rows one INSERT statement sent to a node carries.
const insertBatch = 1000

var roundRobin atomic.Uint64

// cell is one value of a row to insert: an expression left for the datanode
// (its SQL) or a value in text form already known.
type cell struct {
	sql     string
	isDef   bool // DEFAULT
	literal bool // a literal every node reads alike
	// constant: the planner read text (or NULL) as the column's value,
	// which the coordinator routes by without evaluating anything.
	constant bool
	text     string
	isNull   bool
	known    bool
}

// inRow is how the cell is written in a row of the INSERT sent to a node.
func (c cell) inRow() string {
	switch {
	case !c.known:
		return c.sql
	case c.isNull:
		return "NULL"
	}
	if strings.ContainsRune(c.text, '\\') {
		// E'' reads the same whatever standard_conforming_strings is.
		return "E'" + strings.NewReplacer(`\`, `\\`, "'", "''").Replace(c.text) + "'"
	}
	return dialect.QuoteLiteral(c.text)
}

func runInsert(ctx context.Context, p *planner.InsertRows, b Backends, sink Sink) (string, error) {
	t := p.Table
	loc := &t.Locator
	cols := append([]string(nil), p.Columns...)
	distIdx := p.DistIndex
	var rows [][]cell
	if p.Source != nil {
		col := &collector{}
		if _, err := Run(ctx, p.Source, b, col); err != nil {
			return "", err
		}
		if len(col.fields) != len(cols) {
			return "", &pgconn.PgError{Severity: "ERROR", Code: pgerr.SyntaxError, Message: "INSERT has more expressions than target columns"}
		}
		for _, r := range col.rows {
			row := make([]cell, len(r))
			for i, v := range r {
				row[i] = cell{text: string(v), isNull: v == nil, known: true}
			}
			rows = append(rows, row)
		}
	} else {
		for _, r := range p.Rows {
			row := make([]cell, len(r))
			for i, v := range r {
				row[i] = cell{sql: v.SQL, isDef: v.Default, literal: v.Literal, constant: v.Known, text: v.Text, isNull: v.Null}
			}
			rows = append(rows, row)
		}
	}
	if p.FillDefault {
		dc := t.Columns[t.DistCol]
		cols = append(cols, dc.Name)
		distIdx = len(cols) - 1
		for i := range rows {
			if dc.Default == "" {
				rows[i] = append(rows[i], cell{isNull: true, known: true})
			} else {
				rows[i] = append(rows[i], cell{sql: "DEFAULT", isDef: true, literal: true})
			}
		}
	}
	// Columns whose default is nextval get the GTM's global values.
	for _, sc := range p.SeqColumns {
		cols = append(cols, sc.Column)
		for i := range rows {
			v, err := b.NextVal(ctx, sc.Sequence)
			if err != nil {
				return "", err
			}
			rows[i] = append(rows[i], cell{text: strconv.FormatInt(v, 10), known: true})
		}
	}
	for ri := range rows {
		for ci := range rows[ri] {
			c := &rows[ri][ci]
			if c.known || !c.isDef {
				continue
			}
			if seq, ok := p.DefaultSequences[cols[ci]]; ok {
				v, err := b.NextVal(ctx, seq)
				if err != nil {
					return "", err
				}
				*c = cell{text: strconv.FormatInt(v, 10), known: true}
			}
		}
	}
	ev := &evaluator{ctx: ctx, b: b, node: p.EvalNode}
	// Values that decide a row's node, and every value of a replicated
	// table's row that is not a constant, are computed once here, so every
	// node stores the same value.
	for ri := range rows {
		for ci := range rows[ri] {
			c := &rows[ri][ci]
			if c.known {
				continue
			}
			col := t.Columns[mustColumn(t, cols[ci])]
			isDist := ci == distIdx
			switch {
			case isDist && c.isDef:
				if col.Default == "" {
					*c = cell{isNull: true, known: true}
				} else {
					ev.add(c, col.Default, col.Type)
				}
			case isDist && c.constant:
				*c = cell{text: c.text, isNull: c.isNull, known: true}
			case isDist:
				ev.add(c, c.sql, col.Type)
			case loc.Kind == distribution.Replication && !c.literal:
				ev.add(c, c.sql, col.Type)
			}
		}
	}
	if err := ev.run(); err != nil {
		return "", err
	}
	// Route.
	perNode := make([][]int, len(loc.Nodes))
	switch loc.Kind {
	case distribution.Replication:
		all := make([]int, len(rows))
		for i := range rows {
			all[i] = i
		}
		for n := range perNode {
			perNode[n] = all
		}
	case distribution.RoundRobin:
		for i := range rows {
			n := int(roundRobin.Add(1) % uint64(len(loc.Nodes)))
			perNode[n] = append(perNode[n], i)
		}
	default:
		typ := t.Columns[t.DistCol].TypName
		// A type modifier (numeric(10,2), varchar(3)) may change the value
		// on the way in: then the datanode's own coercion decides.
		typmod := strings.Contains(t.Columns[t.DistCol].Type, "(")
		canon := make([][]byte, len(rows))
		var slow []int
		for i, r := range rows {
			c := r[distIdx]
			if c.isNull {
				continue
			}
			v, ok := distribution.CanonicalText(typ, c.text)
			if typmod {
				ok = false
			}
			if !ok {
				slow = append(slow, i)
				continue
			}
			canon[i] = v
		}
		if len(slow) > 0 {
			texts := make([][]byte, len(slow))
			for j, i := range slow {
				texts[j] = []byte(rows[i][distIdx].text)
			}
			bins, err := ev.binary(texts, t.Columns[t.DistCol].Type)
			if err != nil {
				return "", err
			}
			for j, i := range slow {
				v, err := distribution.CanonicalBinary(typ, bins[j])
				if err != nil {
					return "", err
				}
				canon[i] = v
			}
		}
		for i := range rows {
			n, err := loc.NodeForCanonical(canon[i])
			if err != nil {
				return "", err
			}
			perNode[n] = append(perNode[n], i)
		}
	}
	// Send.
	var tags tagCounter
	described := false
	first := ""
	for n, idx := range perNode {
		node := loc.Nodes[n]
		discard := loc.Kind == distribution.Replication && n > 0
		for start := 0; start < len(idx); start += insertBatch {
			end := min(start+insertBatch, len(idx))
			stmt := buildInsert(p, rows, idx[start:end])
			c, err := b.Conn(ctx, node, true)
			if err != nil {
				return "", err
			}
			tag, d, err := exec(ctx, c, node, stmt, sink, described, discard)
			if err != nil {
				return "", err
			}
			described = d
			if !discard {
				tags.add(tag)
			}
			if first == "" {
				first = tag
			}
		}
	}
	if !tags.seen {
		if first == "" {
			return "INSERT 0 0", nil
		}
		return first, nil
	}
	return tags.String(), nil
}

func mustColumn(t interface{ Column(string) (int, bool) }, name string) int {
	i, _ := t.Column(name)
	return i
}

// buildInsert writes the INSERT of some rows: the planner's statement
// around their values.
func buildInsert(p *planner.InsertRows, rows [][]cell, idx []int) string {
	if p.Head == "" {
		return p.DefaultValues
	}
	var b strings.Builder
	b.WriteString(p.Head)
	b.WriteString(" VALUES ")
	for k, i := range idx {
		if k > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for j, c := range rows[i] {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString(c.inRow())
		}
		b.WriteByte(')')
	}
	b.WriteString(p.Tail)
	return b.String()
}

// evaluator computes expressions on one datanode in one round trip.
type evaluator struct {
	ctx     context.Context
	b       Backends
	node    string
	targets []*cell
	exprs   []string
}

// add queues a SQL expression text, cast to typ, whose value fills c.
func (e *evaluator) add(c *cell, exprSQL, typ string) {
	e.targets = append(e.targets, c)
	e.exprs = append(e.exprs, fmt.Sprintf("CAST((%s) AS %s)::text", exprSQL, typ))
}

func (e *evaluator) run() error {
	if len(e.exprs) == 0 {
		return nil
	}
	c, err := e.b.Conn(e.ctx, e.node, false)
	if err != nil {
		return err
	}
	for start := 0; start < len(e.exprs); start += 1000 {
		end := min(start+1000, len(e.exprs))
		sql := "SELECT " + joinComma(e.exprs[start:end])
		res, err := c.Exec(e.ctx, sql).ReadAll()
		if err != nil {
			return NodeError(e.node, err)
		}
		if len(res) != 1 || len(res[0].Rows) != 1 {
			return &pgconn.PgError{Severity: "ERROR", Code: pgerr.InternalError, Message: "expression evaluation returned no row"}
		}
		for i, v := range res[0].Rows[0] {
			*e.targets[start+i] = cell{text: string(v), isNull: v == nil, known: true}
		}
	}
	e.targets, e.exprs = nil, nil
	return nil
}

// binary converts text values of a type to PostgreSQL's binary form.
func (e *evaluator) binary(texts [][]byte, typ string) ([][]byte, error) {
	c, err := e.b.Conn(e.ctx, e.node, false)
	if err != nil {
		return nil, err
	}
	sql := fmt.Sprintf("SELECT x::%s FROM unnest($1::text[]) WITH ORDINALITY AS u(x, i) ORDER BY i", typ)
	rr := c.ExecParams(e.ctx, sql, [][]byte{arrayLiteral(texts)}, nil, nil, []int16{1})
	var out [][]byte
	for rr.NextRow() {
		v := rr.Values()[0]
		out = append(out, append([]byte(nil), v...))
	}
	if _, err := rr.Close(); err != nil {
		return nil, NodeError(e.node, err)
	}
	if len(out) != len(texts) {
		return nil, &pgconn.PgError{Severity: "ERROR", Code: pgerr.InternalError, Message: "value normalisation returned a wrong number of rows"}
	}
	return out, nil
}

func joinComma(xs []string) string {
	out := ""
	for i, x := range xs {
		if i > 0 {
			out += ", "
		}
		out += x
	}
	return out
}
