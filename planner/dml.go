package planner

import (
	"fmt"
	"strconv"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"

	"github.com/xlgo/xlgo/catalog"
	"github.com/xlgo/xlgo/distribution"
	"github.com/xlgo/xlgo/pgerr"
)

// PlanModify plans an UPDATE or DELETE.
func PlanModify(env *Env, stmt *pg_query.Node) (Plan, error) {
	stmt = proto.Clone(stmt).(*pg_query.Node)
	var target *pg_query.RangeVar
	var where *pg_query.Node
	var setCols []string
	var with *pg_query.WithClause
	verb := "UPDATE"
	if u := stmt.GetUpdateStmt(); u != nil {
		target, where, with = u.Relation, u.WhereClause, u.WithClause
		for _, t := range u.TargetList {
			if rt := t.GetResTarget(); rt != nil {
				setCols = append(setCols, rt.Name)
			}
		}
	} else {
		d := stmt.GetDeleteStmt()
		target, where, with = d.Relation, d.WhereClause, d.WithClause
		verb = "DELETE"
	}
	if cur := where.GetCurrentOfExpr(); cur != nil {
		return nil, pgerr.Unsupported("WHERE CURRENT OF")
	}
	text := env.SQL
	if strings.Contains(strings.ToLower(text), "pgxc_") {
		text = ""
	}
	if err := injectCatalogViews(env, stmt); err != nil {
		return nil, err
	}
	if u := stmt.GetUpdateStmt(); u != nil {
		if err := checkNestedWrites(env, stmt, u); err != nil {
			return nil, err
		}
	} else if err := checkNestedWrites(env, stmt, stmt.GetDeleteStmt()); err != nil {
		return nil, err
	}
	tref, err := resolveRef(env, target)
	if err != nil {
		return nil, err
	}
	tref.where = where
	tref.sole = true
	refs, err := collectRefs(env, stmt)
	if err != nil {
		return nil, err
	}
	ids := env.NodeIDs()
	t := tref.table
	if t == nil {
		// Not a distributed table: it lives on one node like the catalogs.
		for _, r := range refs {
			if r.table != nil {
				return nil, pgerr.Unsupported("%s of a local table that reads distributed tables", verb)
			}
		}
		node := env.Preferred(env.Datanodes())
		if node == "" {
			return nil, pgerr.New(pgerr.UndefinedObject, "no datanode is defined")
		}
		sqls, err := perNodeSQL(stmt, []string{node}, ids, text)
		if err != nil {
			return nil, err
		}
		return &RemoteQuery{Nodes: []string{node}, SQL: sqls, Write: true}, nil
	}
	if t.DistCol >= 0 && t.Locator.Kind != distribution.Replication {
		for _, c := range setCols {
			if c == t.Locator.Column {
				return nil, pgerr.Unsupported("Partition column can't be updated in current version")
			}
		}
	}
	if with != nil {
		for _, c := range with.Ctes {
			if cte := c.GetCommonTableExpr(); cte != nil && cte.Ctequery.GetSelectStmt() == nil {
				return nil, pgerr.Unsupported("data-modifying statements in WITH over distributed tables")
			}
		}
	}
	var nodes []string
	if t.Locator.Kind == distribution.Replication {
		// Every copy runs the statement: it must come out the same on each.
		if f := callsVolatile(env, stmt); f != "" {
			return nil, pgerr.Unsupported("volatile function %s in %s of a replicated table: the copies would differ", f, verb)
		}
		nodes = t.Locator.Nodes
	} else {
		tref.pinned, tref.pinnedBy = pinNodes(tref, where, env)
		nodes = tref.nodes()
	}
	// Every other relation must be readable in full on each target node.
	for _, r := range refs {
		if r.rv == target {
			continue
		}
		switch {
		case r.replicated():
			if !coversAll(r.table.Locator.Nodes, nodes) {
				return nil, pgerr.Unsupported("%s reading a replicated table that is not on every node of %s", verb, t.Name)
			}
		case r.distributed():
			rn := r.nodes()
			if len(nodes) != 1 || len(rn) != 1 || rn[0] != nodes[0] {
				return nil, pgerr.Unsupported("%s of a distributed table that reads another distributed table on other datanodes", verb)
			}
		}
	}
	sqls, err := perNodeSQL(stmt, nodes, ids, text)
	if err != nil {
		return nil, err
	}
	rq := &RemoteQuery{Nodes: nodes, SQL: sqls, Write: true, Replicated: t.Locator.Kind == distribution.Replication}
	others := 0 // relations read besides the target
	for _, r := range refs {
		if r.rv != target {
			others++
		}
	}
	if others == 0 && tref.pinnedBy != nil && text != "" && !strings.Contains(strings.ToLower(text), "xc_node_id") {
		rq.Route = routeBy(t, tref.pinnedBy)
	}
	return rq, nil
}

// PlanInsert plans an INSERT.
func PlanInsert(env *Env, stmt *pg_query.Node) (Plan, error) {
	stmt = proto.Clone(stmt).(*pg_query.Node)
	ins := stmt.GetInsertStmt()
	if err := injectCatalogViews(env, stmt); err != nil {
		return nil, err
	}
	if err := checkNestedWrites(env, stmt, ins); err != nil {
		return nil, err
	}
	tref, err := resolveRef(env, ins.Relation)
	if err != nil {
		return nil, err
	}
	t := tref.table
	ids := env.NodeIDs()
	if t == nil {
		refs, err := collectRefs(env, stmt)
		if err != nil {
			return nil, err
		}
		for _, r := range refs {
			if r.table != nil {
				return nil, pgerr.Unsupported("INSERT into a local table that reads distributed tables")
			}
		}
		node := env.Preferred(env.Datanodes())
		if node == "" {
			return nil, pgerr.New(pgerr.UndefinedObject, "no datanode is defined")
		}
		sqls, err := perNodeSQL(stmt, []string{node}, ids)
		if err != nil {
			return nil, err
		}
		return &RemoteQuery{Nodes: []string{node}, SQL: sqls, Write: true}, nil
	}
	if ins.WithClause != nil {
		return nil, pgerr.Unsupported("WITH ... INSERT into a distributed table")
	}
	if oc := ins.OnConflictClause; oc != nil && t.DistCol >= 0 && t.Locator.Kind != distribution.Replication {
		for _, tl := range oc.TargetList {
			if rt := tl.GetResTarget(); rt != nil && rt.Name == t.Locator.Column {
				return nil, pgerr.Unsupported("Partition column can't be updated in current version")
			}
		}
	}
	p := &InsertRows{Table: t, Relation: tableName(ins.Relation), DistIndex: -1, Nodes: t.Locator.Nodes, EvalNode: env.Preferred(env.Datanodes())}
	var values [][]*pg_query.Node // the rows of VALUES as parsed
	if len(ins.Cols) > 0 {
		for _, c := range ins.Cols {
			rt := c.GetResTarget()
			if _, ok := t.Column(rt.Name); !ok {
				return nil, pgerr.New(pgerr.UndefinedColumn, "column %q of relation %q does not exist", rt.Name, t.Name)
			}
			if len(rt.Indirection) > 0 && rt.Name == t.Locator.Column {
				return nil, pgerr.Unsupported("assigning to a part of the distribution column")
			}
			p.Columns = append(p.Columns, rt.Name)
		}
	} else {
		for _, c := range t.Columns {
			p.Columns = append(p.Columns, c.Name)
		}
	}
	hashed := t.DistCol >= 0 && (t.Locator.Kind == distribution.Hash || t.Locator.Kind == distribution.Modulo)
	if hashed {
		for i, c := range p.Columns {
			if c == t.Locator.Column {
				p.DistIndex = i
			}
		}
		if p.DistIndex < 0 {
			p.FillDefault = true
		}
	}
	sel := ins.SelectStmt.GetSelectStmt()
	switch {
	case sel == nil:
		// DEFAULT VALUES: one row of defaults.
		p.Columns = nil
		p.DistIndex = -1
		p.FillDefault = hashed
		values = [][]*pg_query.Node{{}}
	case len(sel.ValuesLists) > 0 && sel.WithClause == nil && len(sel.SortClause) == 0 && sel.LimitCount == nil &&
		sel.LimitOffset == nil && !hasSubLink(sel):
		for _, l := range sel.ValuesLists {
			items := l.GetList().Items
			if len(items) > len(p.Columns) {
				return nil, pgerr.New(pgerr.SyntaxError, "INSERT has more expressions than target columns")
			}
			if len(items) < len(p.Columns) && len(ins.Cols) > 0 {
				return nil, pgerr.New(pgerr.SyntaxError, "INSERT has more target columns than expressions")
			}
			values = append(values, items)
		}
		if len(ins.Cols) == 0 && len(values) > 0 {
			// Without a column list the rows name the first columns only.
			n := len(values[0])
			for _, r := range values {
				if len(r) != n {
					return nil, pgerr.New(pgerr.SyntaxError, "VALUES lists must all be the same length")
				}
			}
			p.Columns = p.Columns[:n]
			if p.DistIndex >= n {
				p.DistIndex = -1
				p.FillDefault = true
			}
		}
	default:
		if hasSetToDefault(sel) {
			return nil, pgerr.Unsupported("DEFAULT in a VALUES list with subqueries")
		}
		// INSERT ... SELECT: without a column list the query may give
		// fewer columns than the table has.
		if len(ins.Cols) == 0 && sel.Op == pg_query.SetOperation_SETOP_NONE && len(sel.ValuesLists) == 0 && !hasStar(ins.SelectStmt) &&
			len(sel.TargetList) < len(p.Columns) {
			p.Columns = p.Columns[:len(sel.TargetList)]
			if p.DistIndex >= len(p.Columns) {
				p.DistIndex = -1
				p.FillDefault = hashed
			}
		}
		// Rows are cast to the columns' types without their modifiers: the
		// datanode's own coercion then checks lengths as an INSERT does.
		var outs, names []string
		for i, c := range p.Columns {
			ci, _ := t.Column(c)
			names = append(names, fmt.Sprintf("c%d", i+1))
			typ := t.Columns[ci].BaseType
			if typ == "" {
				typ = t.Columns[ci].Type
			}
			outs = append(outs, fmt.Sprintf("s.c%d::%s", i+1, typ))
		}
		wrapper := parseOne(fmt.Sprintf("SELECT %s FROM (SELECT 1) AS s(%s)", strings.Join(outs, ", "), strings.Join(names, ", ")))
		rs := wrapper.GetSelectStmt().FromClause[0].GetRangeSubselect()
		rs.Subquery = ins.SelectStmt
		src, err := PlanSelect(env.withoutSQL(), wrapper) // the rows' query is not the statement's text
		if err != nil {
			return nil, err
		}
		p.Source = src
	}
	if p.FillDefault && t.Columns[t.DistCol].Identity == "a" {
		p.OverrideSystem = true
	}
	if p.FillDefault && len(values) == 0 && p.Source == nil {
		p.FillDefault = false
	}
	given := map[string]bool{}
	for _, c := range p.Columns {
		given[c] = true
	}
	for _, c := range t.Columns {
		seq, ok := SequenceOfDefault(c.Default)
		if ok {
			if p.DefaultSequences == nil {
				p.DefaultSequences = map[string]string{}
			}
			p.DefaultSequences[c.Name] = seq
		}
		if given[c.Name] || (p.FillDefault && c.Name == t.Locator.Column) {
			continue
		}
		if ok {
			p.SeqColumns = append(p.SeqColumns, SeqColumn{Column: c.Name, Sequence: seq})
			if c.Identity == "a" {
				p.OverrideSystem = true
			}
		}
	}
	// One row whose distribution value is a constant, nothing to fill in:
	// the statement goes as it is to the row's node.
	if rq := singleRowInsert(env, p, t, ins, values); rq != nil {
		return rq, nil
	}
	if err := p.setRows(ins, values); err != nil {
		return nil, err
	}
	return p, nil
}

// valuesMarker stands for the rows in the statement deparsed once for Head
// and Tail.
const valuesMarker = "xlgo_insert_rows"

// setRows writes the statement around the rows (Head, Tail, DefaultValues)
// and each value of values as data.
func (p *InsertRows) setRows(ins *pg_query.InsertStmt, values [][]*pg_query.Node) error {
	t := p.Table
	send := append([]string(nil), p.Columns...)
	if p.FillDefault {
		send = append(send, t.Columns[t.DistCol].Name)
	}
	for _, sc := range p.SeqColumns {
		send = append(send, sc.Column)
	}
	out := proto.Clone(ins).(*pg_query.InsertStmt)
	if p.OverrideSystem {
		out.Override = pg_query.OverridingKind_OVERRIDING_SYSTEM_VALUE
	}
	out.Cols = nil
	out.SelectStmt = nil
	if len(send) == 0 {
		sql, err := deparse(&pg_query.Node{Node: &pg_query.Node_InsertStmt{InsertStmt: out}})
		if err != nil {
			return err
		}
		p.DefaultValues = sql
	} else {
		for _, c := range send {
			out.Cols = append(out.Cols, &pg_query.Node{Node: &pg_query.Node_ResTarget{ResTarget: &pg_query.ResTarget{Name: c}}})
		}
		out.SelectStmt = &pg_query.Node{Node: &pg_query.Node_SelectStmt{SelectStmt: &pg_query.SelectStmt{
			LimitOption: pg_query.LimitOption_LIMIT_OPTION_DEFAULT, Op: pg_query.SetOperation_SETOP_NONE,
			ValuesLists: []*pg_query.Node{{Node: &pg_query.Node_List{List: &pg_query.List{Items: []*pg_query.Node{parseExpr(valuesMarker)}}}}}}}}
		sql, err := deparse(&pg_query.Node{Node: &pg_query.Node_InsertStmt{InsertStmt: out}})
		if err != nil {
			return err
		}
		head, tail, ok := strings.Cut(sql, " VALUES ("+valuesMarker+")")
		if !ok || strings.Contains(tail, valuesMarker) {
			return pgerr.Unsupported("an INSERT whose text names %s", valuesMarker)
		}
		p.Head, p.Tail = head, tail
	}
	for _, r := range values {
		row := make([]InsertValue, len(r))
		for i, e := range r {
			v := &row[i]
			if e.GetSetToDefault() != nil {
				v.SQL, v.Default, v.Literal = "DEFAULT", true, true
				continue
			}
			sql, err := deparseExprNode(e)
			if err != nil {
				return err
			}
			v.SQL, v.Literal = sql, isLiteral(e)
			if i == p.DistIndex {
				col := t.Columns[t.DistCol]
				if text, isNull, ok := literalText(e); ok {
					v.Known, v.Text, v.Null = true, text, isNull
				} else if text, isNull, ok := constText(e, col.TypName); ok && e.GetTypeCast() != nil {
					v.Known, v.Text, v.Null = true, text, isNull
				}
			}
		}
		p.Rows = append(p.Rows, row)
	}
	return nil
}

// isLiteral tells whether an expression is a literal the target node reads
// the same way whatever node it is.
func isLiteral(n *pg_query.Node) bool {
	if n.GetSetToDefault() != nil {
		return true
	}
	c := n.GetAConst()
	if tc := n.GetTypeCast(); tc != nil {
		c = tc.Arg.GetAConst()
	}
	if c == nil {
		return false
	}
	// 'now' and its kin read as the current time: each node would read its own.
	if sv := c.GetSval(); sv != nil {
		switch strings.ToLower(strings.TrimSpace(sv.Sval)) {
		case "now", "today", "tomorrow", "yesterday":
			return false
		}
	}
	return true
}

// literalText is the text of a literal as the column reads it, when the
// literal's own type does not change it (a bare constant or string).
func literalText(n *pg_query.Node) (string, bool, bool) {
	c := n.GetAConst()
	if c == nil {
		return "", false, false
	}
	if c.Isnull {
		return "", true, true
	}
	switch v := c.Val.(type) {
	case *pg_query.A_Const_Ival:
		return strconv.Itoa(int(v.Ival.Ival)), false, true
	case *pg_query.A_Const_Sval:
		return v.Sval.Sval, false, true
	case *pg_query.A_Const_Boolval:
		if v.Boolval.Boolval {
			return "true", false, true
		}
		return "false", false, true
	}
	// A float literal is numeric: its assignment to an integer column rounds.
	return "", false, false
}

func singleRowInsert(env *Env, p *InsertRows, t *catalog.Table, ins *pg_query.InsertStmt, values [][]*pg_query.Node) *RemoteQuery {
	if env.SQL == "" || len(values) != 1 || p.Source != nil || p.FillDefault || len(p.SeqColumns) > 0 ||
		p.DistIndex < 0 || p.DistIndex >= len(values[0]) || ins.OnConflictClause != nil ||
		strings.Contains(strings.ToLower(env.SQL), "xc_node_id") || strings.Contains(strings.ToLower(env.SQL), "pgxc_") {
		return nil
	}
	for _, v := range values[0] {
		if hasSubLink(v) || callsVolatile(env, v) != "" || hasSetToDefault(v) {
			return nil
		}
	}
	dc := t.Columns[t.DistCol]
	if strings.Contains(dc.Type, "(") {
		return nil
	}
	by := values[0][p.DistIndex]
	text, isNull, ok := constText(by, dc.TypName)
	if pr := by.GetParamRef(); pr != nil && int(pr.Number) >= 1 && int(pr.Number) <= len(env.Params) {
		prm := env.Params[pr.Number-1]
		if typeFamily(prm.Type) == "" || typeFamily(prm.Type) != typeFamily(dc.TypName) {
			return nil
		}
		text, isNull = env.paramValue(prm)
		ok = true
	} else if by.GetAConst() == nil && by.GetTypeCast() == nil {
		return nil
	}
	if !ok || isNull {
		return nil
	}
	canon, ok := distribution.CanonicalText(dc.TypName, text)
	if !ok {
		return nil
	}
	i, err := t.Locator.NodeForCanonical(canon)
	if err != nil {
		return nil
	}
	node := t.Locator.Nodes[i]
	rq := &RemoteQuery{Nodes: []string{node}, SQL: map[string]string{node: env.SQL}, Write: true}
	if by.GetAConst() != nil || by.GetParamRef() != nil {
		rq.Route = routeBy(t, by)
	}
	return rq
}

func hasSubLink(m proto.Message) bool {
	found := false
	walk(m, func(x proto.Message) bool {
		if _, ok := x.(*pg_query.SubLink); ok {
			found = true
		}
		return !found
	})
	return found
}

func hasSetToDefault(m proto.Message) bool {
	found := false
	walk(m, func(x proto.Message) bool {
		if _, ok := x.(*pg_query.SetToDefault); ok {
			found = true
		}
		return !found
	})
	return found
}
