package executor

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/xlgo/xlgo/distribution"
	"github.com/xlgo/xlgo/pgerr"
	"github.com/xlgo/xlgo/planner"
)

// firstUserOID is PostgreSQL's FirstNormalObjectId: types below it are
// built in, with the same OID on every datanode.
const firstUserOID = 16384

// binding is the parameters a SubPlan's statement is sent: the statement's
// own, then the subquery's value, typed on each node as the subquery's
// column was (a user type has an OID of its own on each datanode).
type binding struct {
	params [][]byte
	oids   []uint32            // the value's type on every node, when built in
	byNode map[string][]uint32 // else on each node
}

// forNode gives the parameters and their types as node reads them.
func (bd *binding) forNode(node string) ([][]byte, []uint32) {
	if bd.byNode != nil {
		return bd.params, bd.byNode[node]
	}
	return bd.params, bd.oids
}

// runSubPlan runs a SubPlan's subquery and gives its statement's plan as
// it runs with the value (a RemoteQuery routed by it: on the value's nodes)
// and the value as a parameter.
func runSubPlan(ctx context.Context, p *planner.SubPlan, b Backends) (planner.Plan, *binding, int, error) {
	col := &collector{}
	if _, err := Run(ctx, p.Sub, b, col); err != nil {
		return nil, nil, 0, err
	}
	if len(col.fields) != 1 {
		return nil, nil, 0, fmt.Errorf("executor: a subquery returned %d columns", len(col.fields))
	}
	f := col.fields[0]
	if f.Format != 0 {
		return nil, nil, 0, fmt.Errorf("executor: a subquery's value came in binary")
	}
	vals := make([][]byte, len(col.rows))
	for i, r := range col.rows {
		vals[i] = r[0]
	}
	var value []byte
	oid := f.DataTypeOID
	src := anyNode(p.Sub)
	if p.In {
		value = arrayLiteral(vals)
		var err error
		if oid, err = arrayType(ctx, b, src, oid); err != nil {
			return nil, nil, 0, err
		}
	} else {
		switch len(vals) {
		case 0:
		case 1:
			value = vals[0]
		default:
			return nil, nil, 0, pgerr.New(pgerr.CardinalityViolation, "more than one row returned by a subquery used as an expression")
		}
	}
	main, err := routeByValue(p, vals)
	if err != nil {
		return nil, nil, 0, err
	}
	bd := &binding{params: append(slices.Clone(p.Params), value)}
	own := slices.Clone(p.ParamOIDs)
	for len(own) < len(p.Params) {
		own = append(own, 0)
	}
	if oid < firstUserOID {
		bd.oids = append(own, oid)
		return main, bd, len(vals), nil
	}
	// A user type: its name on the node that sent it, its OID on each
	// node the statement reads.
	name, err := typeName(ctx, b, src, oid)
	if err != nil {
		return nil, nil, 0, err
	}
	bd.byNode = map[string][]uint32{}
	for _, node := range planNodes(main) {
		o, err := typeOID(ctx, b, node, name)
		if err != nil {
			return nil, nil, 0, err
		}
		bd.byNode[node] = append(slices.Clone(own), o)
	}
	return main, bd, len(vals), nil
}

// routeByValue gives the statement's plan for the value: a RemoteQuery
// whose Route names the SubPlan's parameter runs on the node of a scalar
// value, or on the nodes of an IN's values.
func routeByValue(p *planner.SubPlan, vals [][]byte) (planner.Plan, error) {
	rq, ok := p.Main.(*planner.RemoteQuery)
	if !ok || rq.Route == nil || rq.Route.Param != p.Param {
		return p.Main, nil
	}
	loc := &rq.Route.Table.Locator
	// nodeOf is the node of a value's rows; ok is false when it has none
	// (an integer out of the column's range matches no row).
	nodeOf := func(v []byte) (string, bool, error) {
		canon, ok := distribution.CanonicalText(loc.TypeName, string(v))
		if !ok {
			if isInteger(v) && intColumn(loc.TypeName) {
				return "", false, nil
			}
			return "", false, pgerr.Unsupported("routing the value %q of a subquery to a node of %s", v, rq.Route.Table.QualifiedName())
		}
		i, err := loc.NodeForCanonical(canon)
		if err != nil {
			return "", false, err
		}
		return loc.Nodes[i], true, nil
	}
	if loc.Frozen != nil {
		// Some rows are switching nodes: every node of the table is asked
		// (the switch is one distributed transaction, so the rows are on
		// exactly one of them whichever snapshot a node's part takes).
		return p.Main, nil
	}
	sqlText := rq.SQL[rq.Nodes[0]]
	with := func(nodes []string) planner.Plan {
		c := *rq
		c.Nodes = nodes
		c.SQL = make(map[string]string, len(nodes))
		for _, n := range nodes {
			c.SQL[n] = sqlText
		}
		return &c
	}
	if !p.In {
		// No value (or NULL) matches no row: any node answers as all would.
		if len(vals) != 1 || vals[0] == nil {
			return p.Main, nil
		}
		node, ok, err := nodeOf(vals[0])
		if err != nil || !ok {
			return p.Main, err
		}
		return with([]string{node}), nil
	}
	set := map[string]bool{}
	for _, v := range vals {
		if v == nil {
			continue // NULL equals no row
		}
		node, ok, err := nodeOf(v)
		if err != nil {
			// Not routed: every node is asked.
			return p.Main, nil
		}
		if ok {
			set[node] = true
		}
	}
	var nodes []string
	for _, n := range rq.Nodes {
		if set[n] {
			nodes = append(nodes, n)
		}
	}
	if len(nodes) == 0 {
		// No row matches: one node answers, with the columns' description.
		nodes = rq.Nodes[:1]
	}
	return with(nodes), nil
}

// isInteger tells whether v is the text of an integer, of any size.
func isInteger(v []byte) bool {
	if len(v) > 0 && v[0] == '-' {
		v = v[1:]
	}
	if len(v) == 0 {
		return false
	}
	for _, c := range v {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// intColumn tells whether a distribution column's type is an integer type.
func intColumn(typ string) bool {
	switch distribution.NormalizeTypeName(typ) {
	case "int2", "int4", "int8":
		return true
	}
	return false
}

// planNodes lists the datanodes a plan sends statements to.
func planNodes(p planner.Plan) []string {
	var out []string
	add := func(ns ...string) {
		for _, n := range ns {
			if !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
	}
	planner.WalkPlan(p, func(x planner.Plan) {
		switch x := x.(type) {
		case *planner.RemoteQuery:
			add(x.Nodes...)
		case *planner.RemoteScan:
			add(x.Nodes...)
		case *planner.GatherEval:
			add(x.Node)
		}
	})
	return out
}

// builtinArrayTypes are the array types of the built-in types a subquery
// usually returns.
var builtinArrayTypes = map[uint32]uint32{16: 1000, 17: 1001, 18: 1002, 19: 1003, 20: 1016, 21: 1005, 23: 1007, 25: 1009,
	26: 1028, 114: 199, 700: 1021, 701: 1022, 790: 791, 1042: 1014, 1043: 1015, 1082: 1182, 1083: 1183, 1114: 1115,
	1184: 1185, 1186: 1187, 1266: 1270, 1560: 1561, 1562: 1563, 1700: 1231, 2950: 2951, 3802: 3807}

// arrayType is the OID of the array type of a type, as node knows it.
func arrayType(ctx context.Context, b Backends, node string, oid uint32) (uint32, error) {
	if a, ok := builtinArrayTypes[oid]; ok {
		return a, nil
	}
	a, err := askOID(ctx, b, node, "SELECT typarray FROM pg_catalog.pg_type WHERE oid = $1", strconv.FormatUint(uint64(oid), 10))
	if err == nil && a == 0 {
		err = pgerr.Unsupported("IN (subquery) over a type without an array type")
	}
	return a, err
}

// typeOID is the OID of a type, by name, on node.
func typeOID(ctx context.Context, b Backends, node, name string) (uint32, error) {
	return askOID(ctx, b, node, "SELECT $1::pg_catalog.regtype::pg_catalog.oid", name)
}

// askOID asks a datanode a query with one parameter whose answer is an OID.
func askOID(ctx context.Context, b Backends, node, sql, arg string) (uint32, error) {
	c, err := b.Conn(ctx, node, false)
	if err != nil {
		return 0, err
	}
	col := &collector{}
	rr := c.ExecParams(ctx, sql, [][]byte{[]byte(arg)}, nil, nil, nil)
	if _, _, err := consume(&oneResult{rr: rr}, true, node, col, false, false); err != nil {
		return 0, err
	}
	if len(col.rows) != 1 || col.rows[0][0] == nil {
		return 0, fmt.Errorf("executor: no type %s on %s", arg, node)
	}
	o, err := strconv.ParseUint(string(col.rows[0][0]), 10, 32)
	return uint32(o), err
}
