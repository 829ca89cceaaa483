package engine

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/xlgo/xlgo/catalog"
	"github.com/xlgo/xlgo/distribution"
	"github.com/xlgo/xlgo/executor"
	"github.com/xlgo/xlgo/planner"
)

// rewriteTable places a table's rows anew under another distribution
// (ALTER TABLE ... DISTRIBUTE BY, and node changes of MODULO, ROUNDROBIN and
// REPLICATION tables), as Postgres-XL did: the table is unavailable while it
// runs. Every coordinator first holds the statements that use the table (a
// fence: pcfrozen = {-1}); then one distributed transaction locks the table
// on every node old and new, reads its rows, empties it, writes each row
// where the new distribution sends it and changes pgxc_class; statements
// that waited go on under the new catalog.
func (s *session) rewriteTable(ctx context.Context, t *catalog.Table, kind distribution.Kind, col string, nodes []string, group string) error {
	s.mover = true
	s.stmtGen.Store(0)
	defer func() {
		s.mover = false
		s.co.moves.Delete(s.moveProgressKey(t))
	}()
	info, err := s.describeTable(ctx, t.QualifiedName())
	if err != nil {
		return err
	}
	next := *t
	next.Locator = distribution.Locator{Kind: kind, Nodes: nodes}
	next.DistCol = -1
	c, err := distColumn(info, kind, col)
	if err != nil {
		return err
	}
	attnum := c.attnum
	if kind == distribution.Hash || kind == distribution.Modulo {
		next.DistCol, _ = t.Column(col)
		next.Locator.Column, next.Locator.TypeName = col, c.typName
		if strings.Contains(t.Columns[next.DistCol].Type, "(") {
			return planner.Unsupported("ALTER TABLE ... DISTRIBUTE BY a column with a type modifier (%s)", t.Columns[next.DistCol].Type)
		}
	}
	// The fence: statements using the table wait.
	if err := s.autocommit(ctx, func() error {
		s.tx.ddl, s.tx.fence = true, true
		_, err := s.execAll(ctx, "UPDATE pgxc.pgxc_class SET pcfrozen = '{-1}' WHERE pcrelid = "+quoteLiteral(t.QualifiedName())+"::regclass", true)
		return err
	}); err != nil {
		return err
	}
	err = s.autocommit(ctx, func() error { return s.rewriteRows(ctx, t, &next, attnum, group) })
	if err != nil {
		// Thaw: the table stays as it was.
		if terr := s.autocommit(ctx, func() error {
			s.tx.ddl = true
			_, err := s.execAll(ctx, "UPDATE pgxc.pgxc_class SET pcfrozen = NULL WHERE pcrelid = "+quoteLiteral(t.QualifiedName())+"::regclass", true)
			return err
		}); terr != nil {
			s.log.Warn("thawing a table after a failed redistribution", "table", t.QualifiedName(), "err", terr)
		}
		return err
	}
	return nil
}

// rewriteRows is rewriteTable's transaction.
func (s *session) rewriteRows(ctx context.Context, t, next *catalog.Table, attnum int, group string) error {
	s.tx.ddl = true
	q := t.QualifiedName()
	old := t.Locator.Nodes
	all := slices.Clone(old)
	for _, n := range next.Locator.Nodes {
		if !slices.Contains(all, n) {
			all = append(all, n)
		}
	}
	for _, n := range all {
		c, err := s.Conn(ctx, n, true)
		if err != nil {
			return err
		}
		if _, err := c.Exec(ctx, "SET LOCAL lock_timeout = '10s'; LOCK TABLE "+q+" IN ACCESS EXCLUSIVE MODE").ReadAll(); err != nil {
			return executor.NodeError(n, err)
		}
	}
	st := &moveStats{start: s.stmtStart, total: distribution.NumBuckets}
	targets := next.Locator.Nodes
	sources := old
	truncate := old
	if t.Locator.Kind == distribution.Replication {
		// One copy is read: one that stays, when one does.
		src := old[0]
		for _, n := range old {
			if slices.Contains(next.Locator.Nodes, n) {
				src = n
				break
			}
		}
		sources = []string{src}
		if next.Locator.Kind == distribution.Replication {
			// The nodes that keep it keep their copy.
			targets, truncate = nil, nil
			for _, n := range next.Locator.Nodes {
				if !slices.Contains(old, n) {
					targets = append(targets, n)
				}
			}
			for _, n := range old {
				if !slices.Contains(next.Locator.Nodes, n) {
					truncate = append(truncate, n)
				}
			}
		}
	}
	// Read every row into one file per target node.
	files := map[string]*os.File{}
	writers := map[string]*bufio.Writer{}
	defer func() {
		for _, f := range files {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	for _, n := range targets {
		f, err := os.CreateTemp("", "xlgo-redistribute-*")
		if err != nil {
			return err
		}
		files[n] = f
		writers[n] = bufio.NewWriterSize(f, 256<<10)
	}
	var read, routed int64
	rr := 0
	route := func(rec []byte) error {
		read++
		st.rows++
		st.bytes += int64(len(rec))
		switch next.Locator.Kind {
		case distribution.Replication:
			for _, n := range targets {
				routed++
				if _, err := writers[n].Write(rec); err != nil {
					return err
				}
			}
			return nil
		case distribution.RoundRobin:
			rr++
			routed++
			_, err := writers[targets[rr%len(targets)]].Write(rec)
			return err
		}
		f := &copyFormat{kind: 't', delimiter: '\t', null: `\N`}
		val, isNull, ok := f.field(rec, next.DistCol)
		if !ok {
			return fmt.Errorf("a COPY record of %s without its distribution column", q)
		}
		var canon []byte
		if !isNull {
			if canon, ok = distribution.CanonicalText(next.Locator.TypeName, string(val)); !ok {
				return planner.Unsupported("redistributing %s: the coordinator cannot read the distribution value %q", q, val)
			}
		}
		i, err := next.Locator.NodeForCanonical(canon)
		if err != nil {
			return err
		}
		routed++
		_, err = writers[targets[i]].Write(rec)
		return err
	}
	if len(targets) > 0 {
		for _, n := range sources {
			c, err := s.Conn(ctx, n, true)
			if err != nil {
				return err
			}
			if _, err := c.CopyTo(ctx, &lineSplitter{fn: route}, "COPY "+q+" TO STDOUT"); err != nil {
				return executor.NodeError(n, err)
			}
		}
		s.progress(t, st, "read")
	}
	for _, n := range truncate {
		c, err := s.Conn(ctx, n, true)
		if err != nil {
			return err
		}
		if _, err := c.Exec(ctx, "TRUNCATE ONLY "+q).ReadAll(); err != nil {
			return executor.NodeError(n, err)
		}
	}
	var written int64
	for _, n := range targets {
		if err := writers[n].Flush(); err != nil {
			return err
		}
		f := files[n]
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		c, err := s.Conn(ctx, n, true)
		if err != nil {
			return err
		}
		tag, err := c.CopyFrom(ctx, f, "COPY "+q+" FROM STDIN")
		if err != nil {
			return executor.NodeError(n, err)
		}
		written += tag.RowsAffected()
	}
	if written != routed {
		return fmt.Errorf("redistributing %s: %d rows read, %d routed, %d written", q, read, routed, written)
	}
	ids, names := nodeArrays(next.Locator.Nodes)
	groupText := "NULL"
	if group != "" {
		groupText = quoteLiteral(group)
	}
	_, err := s.execAll(ctx, fmt.Sprintf(`UPDATE pgxc.pgxc_class SET pclocatortype = %s, pcattnum = %d, nodeoids = %s, pcnodenames = %s,
	pcbucketmap = NULL, pcfrozen = NULL, pctarget = NULL, pcgroup = %s WHERE pcrelid = %s::regclass`,
		quoteLiteral(string(next.Locator.Kind)), attnum, ids, names, groupText, quoteLiteral(q)), true)
	if err == nil {
		st.buckets = distribution.NumBuckets
		s.progress(t, st, "done")
	}
	return err
}

// lineSplitter hands each line (a COPY text record) written to it to fn.
type lineSplitter struct {
	fn   func(rec []byte) error
	rest []byte
}

func (l *lineSplitter) Write(p []byte) (int, error) {
	buf := append(l.rest, p...)
	for {
		i := bytes.IndexByte(buf, '\n')
		if i < 0 {
			break
		}
		if err := l.fn(buf[:i+1]); err != nil {
			return 0, err
		}
		buf = buf[i+1:]
	}
	l.rest = append(l.rest[:0], buf...)
	return len(p), nil
}
