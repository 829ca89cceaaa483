package dialect

import (
	"fmt"
	"strconv"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/xlgo/xlgo/internal/sqlscan"
	"github.com/xlgo/xlgo/pgerr"
)

// Parse recognises one statement's text (already split from a multi-statement string): an XL
// statement comes back as its own type, anything else as *Passthrough with any XL clause taken out.
// Errors are *pgconn.PgError values whose Position is relative to sql.
func Parse(sql string) (Statement, error) {
	if err := CheckEncoding(sql); err != nil {
		return nil, err
	}
	if plainStatement(sql) {
		return &Passthrough{SQL: sql}, nil
	}
	p, err := newTokenParser(sql)
	if err != nil {
		return nil, err
	}
	switch {
	case p.isWord(0, "create"):
		switch {
		case p.isWord(1, "node") && p.isWord(2, "group"):
			return p.createNodeGroup()
		case p.isWord(1, "node"):
			return p.createNode()
		case p.isWord(1, "barrier"):
			return p.createBarrier()
		}
		return p.createTable()
	case p.isWord(0, "alter"):
		if p.isWord(1, "node") {
			return p.alterNode()
		}
		if p.isWord(1, "table") {
			return p.alterTable()
		}
	case p.isWord(0, "drop") && p.isWord(1, "node"):
		if p.isWord(2, "group") {
			return p.dropNodeGroup()
		}
		return p.dropNode()
	case p.isWord(0, "execute") && p.isWord(1, "direct") && p.isWord(2, "on"):
		return p.executeDirect()
	case p.isWord(0, "clean") && p.isWord(1, "connection"):
		return p.cleanConnection()
	case p.isWord(0, "pause") && p.isWord(1, "cluster"):
		p.i = 2
		return p.finish(&PauseCluster{})
	case p.isWord(0, "unpause") && p.isWord(1, "cluster"):
		p.i = 2
		return p.finish(&UnpauseCluster{})
	}
	return &Passthrough{SQL: sql}, nil
}

// nodeList reads '(' ColId [, ...] ')'.
func (p *tokenParser) nodeList() ([]string, error) {
	if err := p.expectKind(pg_query.Token_ASCII_40); err != nil {
		return nil, err
	}
	var names []string
	for {
		n, err := p.colID()
		if err != nil {
			return nil, err
		}
		names = append(names, n)
		if p.acceptKind(pg_query.Token_ASCII_41) {
			return names, nil
		}
		if err := p.expectKind(pg_query.Token_ASCII_44); err != nil {
			return nil, err
		}
	}
}

// nodes reads a parenthesised node list, or a bare list without parentheses.
func (p *tokenParser) nodes() ([]string, error) {
	if p.isKind(0, pg_query.Token_ASCII_40) {
		return p.nodeList()
	}
	var names []string
	for {
		n, err := p.colID()
		if err != nil {
			return nil, err
		}
		names = append(names, n)
		if !p.acceptKind(pg_query.Token_ASCII_44) {
			return names, nil
		}
	}
}

// createNode: CREATE NODE name [WITH ( options )].
func (p *tokenParser) createNode() (Statement, error) {
	p.i = 2
	name, err := p.colID()
	if err != nil {
		return nil, err
	}
	st := &CreateNode{Name: name}
	if p.acceptWord("with") {
		if st.Options, err = p.nodeOptions(); err != nil {
			return nil, err
		}
	}
	return p.finish(st)
}

// alterNode: ALTER NODE name WITH ( options ).
func (p *tokenParser) alterNode() (Statement, error) {
	p.i = 2
	name, err := p.colID()
	if err != nil {
		return nil, err
	}
	if err := p.expectWord("with"); err != nil {
		return nil, err
	}
	st := &AlterNode{Name: name}
	if st.Options, err = p.nodeOptions(); err != nil {
		return nil, err
	}
	return p.finish(st)
}

// finish requires the end of the statement and returns st.
func (p *tokenParser) finish(st Statement) (Statement, error) {
	if err := p.end(); err != nil {
		return nil, err
	}
	return st, nil
}

// optValue is the value of one WITH option.
type optValue struct {
	tok     int    // index of the value's first token, -1 when there is no value
	str     string // string literal value, or folded word
	isStr   bool   // a string literal
	isWord  bool   // an identifier or keyword
	num     string // numeric text (with sign)
	isInt   bool
	isFloat bool
}

// nodeOptions reads '(' name [= value] [, ...] ')' after WITH.
func (p *tokenParser) nodeOptions() (NodeOptions, error) {
	var o NodeOptions
	if err := p.expectKind(pg_query.Token_ASCII_40); err != nil {
		return o, err
	}
	for {
		nameTok := p.i
		t, ok := p.at(0)
		if !ok || !isColLabel(t) {
			return o, p.syntaxError()
		}
		name, err := p.identifier()
		if err != nil {
			return o, err
		}
		v := optValue{tok: -1}
		if p.acceptKind(pg_query.Token_ASCII_61) {
			if v, err = p.optionValue(); err != nil {
				return o, err
			}
		}
		if err := p.setNodeOption(&o, name, nameTok, v); err != nil {
			return o, err
		}
		if p.acceptKind(pg_query.Token_ASCII_41) {
			return o, nil
		}
		if err := p.expectKind(pg_query.Token_ASCII_44); err != nil {
			return o, err
		}
	}
}

// optionValue reads an option value: a string, a number (optionally signed) or a word.
func (p *tokenParser) optionValue() (optValue, error) {
	v := optValue{tok: p.i}
	t, ok := p.at(0)
	if !ok {
		return v, p.syntaxError()
	}
	sign := ""
	if p.text(t) == "-" || p.text(t) == "+" {
		if n, ok := p.at(1); ok && (n.kind == pg_query.Token_ICONST || n.kind == pg_query.Token_FCONST) {
			if p.text(t) == "-" {
				sign = "-"
			}
			p.i++
			t = n
		}
	}
	switch {
	case t.kind == pg_query.Token_SCONST || t.kind == pg_query.Token_USCONST:
		s, err := p.stringLiteral()
		if err != nil {
			return v, err
		}
		v.str, v.isStr = s, true
	case t.kind == pg_query.Token_ICONST:
		v.num, v.isInt = sign+p.text(t), true
		p.i++
	case t.kind == pg_query.Token_FCONST:
		v.num, v.isFloat = sign+p.text(t), true
		p.i++
	case isColLabel(t):
		s, err := p.identifier()
		if err != nil {
			return v, err
		}
		v.str, v.isWord = s, true
	default:
		return v, p.syntaxError()
	}
	return v, nil
}

// setNodeOption validates one option of CREATE/ALTER NODE and stores it.
func (p *tokenParser) setNodeOption(o *NodeOptions, name string, nameTok int, v optValue) error {
	redundant := func() error {
		return p.errorAt(nameTok, pgerr.SyntaxError, "conflicting or redundant options")
	}
	needParam := func() error {
		return p.errorAt(nameTok, pgerr.SyntaxError, fmt.Sprintf("%s requires a parameter", name))
	}
	switch name {
	case "type":
		if o.Type != nil {
			return redundant()
		}
		if v.tok < 0 {
			return needParam()
		}
		s := v.str
		if !v.isStr && !v.isWord {
			s = v.num
		}
		if s != "coordinator" && s != "datanode" {
			return p.errorAt(v.tok, pgerr.InvalidParameterValue,
				"type value is incorrect, specify 'coordinator' or 'datanode'")
		}
		o.Type = &s
	case "host", "standby_host":
		dst := &o.Host
		if name == "standby_host" {
			dst = &o.StandbyHost
		}
		if *dst != nil {
			return redundant()
		}
		if v.tok < 0 {
			return needParam()
		}
		s := v.str
		if !v.isStr && !v.isWord {
			s = v.num
		}
		*dst = &s
	case "port", "standby_port":
		dst := &o.Port
		if name == "standby_port" {
			dst = &o.StandbyPort
		}
		if *dst != nil {
			return redundant()
		}
		if v.tok < 0 {
			return needParam()
		}
		text := v.num
		if v.isStr {
			text = v.str
		}
		if !v.isInt && !v.isStr {
			shown := v.num
			if v.isWord {
				shown = v.str
			}
			return p.errorAt(v.tok, pgerr.SyntaxError, fmt.Sprintf("invalid argument for %s: \"%s\"", name, shown))
		}
		n, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
				n = -1
			} else {
				return p.errorAt(v.tok, pgerr.SyntaxError, fmt.Sprintf("invalid argument for %s: \"%s\"", name, text))
			}
		}
		if n < 1 || n > 65535 {
			return p.errorAt(v.tok, pgerr.InvalidParameterValue, "port value is out of range")
		}
		port := int(n)
		*dst = &port
	case "primary", "preferred":
		dst := &o.Primary
		if name == "preferred" {
			dst = &o.Preferred
		}
		if *dst != nil {
			return redundant()
		}
		b := true
		if v.tok >= 0 {
			var ok bool
			if b, ok = boolValue(v); !ok {
				return p.errorAt(v.tok, pgerr.SyntaxError, fmt.Sprintf("%s requires a Boolean value", name))
			}
		}
		*dst = &b
	default:
		return p.errorAt(nameTok, pgerr.SyntaxError, fmt.Sprintf("option \"%s\" not recognized", name))
	}
	return nil
}

// boolValue reads a Boolean option value as PostgreSQL's defGetBoolean does.
func boolValue(v optValue) (bool, bool) {
	switch {
	case v.isInt:
		switch v.num {
		case "0":
			return false, true
		case "1":
			return true, true
		}
		return false, false
	case v.isStr || v.isWord:
		switch asciiLower(v.str) {
		case "true", "on":
			return true, true
		case "false", "off":
			return false, true
		}
	}
	return false, false
}

// dropNode: DROP NODE [IF EXISTS] name.
func (p *tokenParser) dropNode() (Statement, error) {
	p.i = 2
	st := &DropNode{}
	if p.isWord(0, "if") && p.isWord(1, "exists") {
		p.i += 2
		st.IfExists = true
	}
	name, err := p.colID()
	if err != nil {
		return nil, err
	}
	st.Name = name
	return p.finish(st)
}

// createNodeGroup: CREATE NODE GROUP g WITH (n1, ...) | WITH n1, ....
func (p *tokenParser) createNodeGroup() (Statement, error) {
	p.i = 3
	name, err := p.colID()
	if err != nil {
		return nil, err
	}
	if err := p.expectWord("with"); err != nil {
		return nil, err
	}
	members, err := p.nodes()
	if err != nil {
		return nil, err
	}
	return p.finish(&CreateNodeGroup{Name: name, Members: members})
}

// dropNodeGroup: DROP NODE GROUP g.
func (p *tokenParser) dropNodeGroup() (Statement, error) {
	p.i = 3
	name, err := p.colID()
	if err != nil {
		return nil, err
	}
	return p.finish(&DropNodeGroup{Name: name})
}

// executeDirect: EXECUTE DIRECT ON (n1, ...) 'sql' | EXECUTE DIRECT ON n1 'sql'.
func (p *tokenParser) executeDirect() (Statement, error) {
	p.i = 3
	var nodes []string
	if p.isKind(0, pg_query.Token_ASCII_40) {
		var err error
		if nodes, err = p.nodeList(); err != nil {
			return nil, err
		}
	} else {
		n, err := p.colID()
		if err != nil {
			return nil, err
		}
		nodes = []string{n}
	}
	sql, err := p.stringLiteral()
	if err != nil {
		return nil, err
	}
	return p.finish(&ExecuteDirect{Nodes: nodes, SQL: sql})
}

// cleanConnection: CLEAN CONNECTION TO {ALL | NODE nodes | COORDINATOR nodes} [FORCE]
// [FOR [DATABASE] d] [TO [USER] u].
func (p *tokenParser) cleanConnection() (Statement, error) {
	p.i = 2
	if err := p.expectWord("to"); err != nil {
		return nil, err
	}
	st := &CleanConnection{}
	var err error
	switch {
	case p.acceptWord("all"):
		st.ToAll = true
	case p.acceptWord("node"):
		st.Nodes, err = p.nodes()
	case p.acceptWord("coordinator"):
		st.Coordinators = true
		st.Nodes, err = p.nodes()
	default:
		return nil, p.syntaxError()
	}
	if err != nil {
		return nil, err
	}
	st.Force = p.acceptWord("force")
	if p.acceptWord("for") {
		p.acceptWord("database")
		if st.Database, err = p.colID(); err != nil {
			return nil, err
		}
	}
	if p.acceptWord("to") {
		p.acceptWord("user")
		if st.User, err = p.colID(); err != nil {
			return nil, err
		}
	}
	return p.finish(st)
}

// createBarrier: CREATE BARRIER ['id'].
func (p *tokenParser) createBarrier() (Statement, error) {
	p.i = 2
	st := &CreateBarrier{}
	if p.isKind(0, pg_query.Token_SCONST) || p.isKind(0, pg_query.Token_USCONST) {
		id, err := p.stringLiteral()
		if err != nil {
			return nil, err
		}
		st.ID = id
	}
	return p.finish(st)
}

// plainStatement tells that a statement cannot be one of XL's: its first
// token is a keyword no XL statement or clause starts with. Text the
// scanner refuses, or with escapes PostgreSQL's scanner checks, is left to
// the lexer and its errors.
func plainStatement(sql string) bool {
	sc := sqlscan.New(sql)
	t := sc.Next()
	for t.Kind == sqlscan.Comment {
		t = sc.Next()
	}
	var buf [10]byte
	switch string(t.Lower(sql, buf[:])) {
	case "select", "insert", "update", "delete", "with", "values", "begin", "start", "commit", "end", "rollback",
		"abort", "set", "show", "reset", "copy", "prepare", "deallocate", "savepoint", "release", "table",
		"discard", "lock", "vacuum", "analyze", "truncate", "explain", "checkpoint", "listen", "notify", "unlisten",
		"fetch", "move", "close", "declare", "comment", "grant", "revoke", "do", "call":
	default:
		return false
	}
	for ; t.Kind != sqlscan.EOF; t = sc.Next() {
		if t.Kind == sqlscan.EString && strings.IndexByte(t.Text(sql), '\\') >= 0 {
			return false
		}
	}
	return sc.Err() == nil
}
