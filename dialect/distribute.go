package dialect

import (
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
)

// qualifiedName reads ColId [. ColLabel ...] and returns the folded parts.
func (p *tokenParser) qualifiedName() ([]string, error) {
	first, err := p.colID()
	if err != nil {
		return nil, err
	}
	names := []string{first}
	for p.acceptKind(pg_query.Token_ASCII_46) {
		n, err := p.colLabel()
		if err != nil {
			return nil, err
		}
		names = append(names, n)
	}
	return names, nil
}

// atDistributeBy reports whether DISTRIBUTE BY starts at the current token.
func (p *tokenParser) atDistributeBy() bool {
	return p.isWord(0, "distribute") && p.isWord(1, "by")
}

// atSubCluster reports whether TO NODE ( or TO GROUP starts at the current token.
func (p *tokenParser) atSubCluster() bool {
	if !p.isWord(0, "to") {
		return false
	}
	return (p.isWord(1, "node") && p.isKind(2, pg_query.Token_ASCII_40)) || p.isWord(1, "group")
}

// distributeBy reads DISTRIBUTE BY {HASH(col) | MODULO(col) | ROUNDROBIN | REPLICATION}
// [TO NODE (...) | TO GROUP g] into dc; sawTo is set when a subcluster was read.
func (p *tokenParser) distributeBy(dc *DistributeClause, sawTo *bool) error {
	p.i += 2 // DISTRIBUTE BY
	t, ok := p.at(0)
	if !ok {
		return p.syntaxError()
	}
	switch {
	case p.isWordTok(t, "hash"), p.isWordTok(t, "modulo"):
		dc.Kind = DistHash
		if p.isWordTok(t, "modulo") {
			dc.Kind = DistModulo
		}
		p.i++
		if err := p.expectKind(pg_query.Token_ASCII_40); err != nil {
			return err
		}
		col, err := p.colID()
		if err != nil {
			return err
		}
		if err := p.expectKind(pg_query.Token_ASCII_41); err != nil {
			return err
		}
		dc.Column = col
	case p.isWordTok(t, "roundrobin"):
		dc.Kind = DistRoundRobin
		p.i++
	case p.isWordTok(t, "replication"):
		dc.Kind = DistReplication
		p.i++
	default:
		return p.syntaxError()
	}
	if p.isWord(0, "to") && (p.isWord(1, "node") || p.isWord(1, "group")) {
		if *sawTo {
			return p.syntaxError()
		}
		*sawTo = true
		return p.subCluster(dc)
	}
	return nil
}

// subCluster reads TO NODE (n1, ...) | TO GROUP g into dc.
func (p *tokenParser) subCluster(dc *DistributeClause) error {
	p.i++ // TO
	if p.acceptWord("group") {
		g, err := p.colID()
		if err != nil {
			return err
		}
		dc.ToGroup = g
		return nil
	}
	if err := p.expectWord("node"); err != nil {
		return err
	}
	nodes, err := p.nodeList()
	if err != nil {
		return err
	}
	dc.ToNodes = nodes
	return nil
}

// createTable takes DISTRIBUTE BY / TO NODE / TO GROUP out of a CREATE TABLE (or CREATE TABLE AS).
// A statement that is not a CREATE TABLE comes back unchanged.
func (p *tokenParser) createTable() (Statement, error) {
	pass := &Passthrough{SQL: p.sql}
	p.i = 1
	if !p.acceptWord("global") {
		p.acceptWord("local")
	}
	if !p.acceptWord("temp") && !p.acceptWord("temporary") {
		p.acceptWord("unlogged")
	}
	if !p.acceptWord("table") {
		return pass, nil
	}
	if p.isWord(0, "if") && p.isWord(1, "not") && p.isWord(2, "exists") {
		p.i += 3
	}
	if _, err := p.qualifiedName(); err != nil {
		return pass, nil
	}
	var (
		dc             *DistributeClause
		spans          [][2]int
		sawDist, sawTo bool
		depth          int
	)
	for !p.eof() {
		t := p.toks[p.i]
		switch t.kind {
		case pg_query.Token_ASCII_40, pg_query.Token_ASCII_91:
			depth++
			p.i++
			continue
		case pg_query.Token_ASCII_41, pg_query.Token_ASCII_93:
			depth--
			p.i++
			continue
		}
		if depth == 0 {
			start := p.i
			switch {
			case p.atDistributeBy():
				if sawDist {
					return nil, p.syntaxError()
				}
				sawDist = true
				if dc == nil {
					dc = &DistributeClause{}
				}
				if err := p.distributeBy(dc, &sawTo); err != nil {
					return nil, err
				}
			case p.atSubCluster() && !(p.i > 0 && p.toks[p.i-1].kind == pg_query.Token_SIMILAR):
				if sawTo {
					return nil, p.syntaxError()
				}
				sawTo = true
				if dc == nil {
					dc = &DistributeClause{}
				}
				if err := p.subCluster(dc); err != nil {
					return nil, err
				}
			default:
				p.i++
				continue
			}
			spans = append(spans, [2]int{p.toks[start].start, p.toks[p.i-1].end})
			continue
		}
		p.i++
	}
	if dc == nil {
		return pass, nil
	}
	return &Passthrough{SQL: removeSpans(p.sql, spans), Distribute: dc}, nil
}

// alterTable recognises ALTER TABLE t {DISTRIBUTE BY ... | TO NODE/GROUP ... | ADD NODE (...) |
// DELETE NODE (...)} [, ...]; any other ALTER TABLE comes back unchanged.
func (p *tokenParser) alterTable() (Statement, error) {
	pass := &Passthrough{SQL: p.sql}
	p.i = 2
	st := &AlterTableDistribution{}
	if p.isWord(0, "if") && p.isWord(1, "exists") {
		p.i += 2
		st.IfExists = true
	}
	p.acceptWord("only")
	names, err := p.qualifiedName()
	if err != nil {
		return pass, nil
	}
	if !p.eof() && p.text(p.toks[p.i]) == "*" {
		p.i++
	}
	atAdd := func() bool { return p.isWord(0, "add") && p.isWord(1, "node") && p.isKind(2, pg_query.Token_ASCII_40) }
	atDelete := func() bool { return p.isWord(0, "delete") && p.isWord(1, "node") }
	if !p.atDistributeBy() && !p.atSubCluster() && !atAdd() && !atDelete() {
		return pass, nil
	}
	st.Names = names
	st.Table = strings.Join(names, ".")
	var sawDist, sawTo bool
	clause := func() *DistributeClause {
		if st.Distribute == nil {
			st.Distribute = &DistributeClause{}
		}
		return st.Distribute
	}
	for {
		switch {
		case p.atDistributeBy():
			if sawDist {
				return nil, p.syntaxError()
			}
			sawDist = true
			if err := p.distributeBy(clause(), &sawTo); err != nil {
				return nil, err
			}
		case p.isWord(0, "to") && (p.isWord(1, "node") || p.isWord(1, "group")):
			if sawTo {
				return nil, p.syntaxError()
			}
			sawTo = true
			if err := p.subCluster(clause()); err != nil {
				return nil, err
			}
		case p.isWord(0, "add") && p.isWord(1, "node"):
			if st.AddNodes != nil {
				return nil, p.syntaxError()
			}
			p.i += 2
			if st.AddNodes, err = p.nodeList(); err != nil {
				return nil, err
			}
		case atDelete():
			if st.DeleteNodes != nil {
				return nil, p.syntaxError()
			}
			p.i += 2
			if st.DeleteNodes, err = p.nodeList(); err != nil {
				return nil, err
			}
		default:
			return nil, p.syntaxError()
		}
		if !p.acceptKind(pg_query.Token_ASCII_44) {
			break
		}
	}
	return p.finish(st)
}

// removeSpans deletes the byte ranges spans (sorted, disjoint) from sql, putting a single space
// where the removal would otherwise join two tokens.
func removeSpans(sql string, spans [][2]int) string {
	var b strings.Builder
	b.Grow(len(sql))
	last := 0
	for _, s := range spans {
		b.WriteString(sql[last:s[0]])
		out := b.String()
		if len(out) > 0 && !isSpace(out[len(out)-1]) && s[1] < len(sql) && !isSpace(sql[s[1]]) {
			b.WriteByte(' ')
		}
		last = s[1]
	}
	b.WriteString(sql[last:])
	return b.String()
}

// isSpace reports whether c is whitespace to PostgreSQL's lexer.
func isSpace(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '\f', '\v':
		return true
	}
	return false
}
