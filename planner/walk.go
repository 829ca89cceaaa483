package planner

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/xlgo/xlgo/distribution"
	"github.com/xlgo/xlgo/pgerr"
)

// Unsupported is the error for a construct xlgo cannot run correctly yet
// (pgerr.Unsupported, for the packages that name it through the planner).
func Unsupported(format string, args ...any) error { return pgerr.Unsupported(format, args...) }

// walk visits every message below m depth first; fn returns false to skip
// the children of a message.
func walk(m proto.Message, fn func(proto.Message) bool) {
	if m == nil {
		return
	}
	walkReflect(m.ProtoReflect(), fn)
}

func walkReflect(m protoreflect.Message, fn func(proto.Message) bool) {
	if !m.IsValid() {
		return
	}
	if !fn(m.Interface()) {
		return
	}
	mf := messageFieldsOf(m.Descriptor())
	if mf.oneof != nil {
		// A Node: one of its hundreds of cases is set.
		if fd := m.WhichOneof(mf.oneof); fd != nil && fd.Kind() == protoreflect.MessageKind {
			walkReflect(m.Get(fd).Message(), fn)
		}
		return
	}
	for _, fd := range mf.fields {
		if !m.Has(fd) {
			continue
		}
		v := m.Get(fd)
		if fd.IsList() {
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				walkReflect(l.Get(i).Message(), fn)
			}
		} else {
			walkReflect(v.Message(), fn)
		}
	}
}

// messageFields are the fields of a message type that hold messages, in
// field number order (so that walks, and the plans made from them, come out
// the same every time).
type messageFields struct {
	fields []protoreflect.FieldDescriptor
	// oneof is set when every one of them is a case of this one oneof (Node).
	oneof protoreflect.OneofDescriptor
}

var messageFieldsCache sync.Map // protoreflect.FullName -> *messageFields

func messageFieldsOf(md protoreflect.MessageDescriptor) *messageFields {
	if v, ok := messageFieldsCache.Load(md.FullName()); ok {
		return v.(*messageFields)
	}
	mf := &messageFields{}
	fds := md.Fields()
	for i := 0; i < fds.Len(); i++ {
		if fd := fds.Get(i); fd.Kind() == protoreflect.MessageKind && !fd.IsMap() {
			mf.fields = append(mf.fields, fd)
		}
	}
	sort.Slice(mf.fields, func(i, j int) bool { return mf.fields[i].Number() < mf.fields[j].Number() })
	if ods := md.Oneofs(); ods.Len() == 1 && !ods.Get(0).IsSynthetic() && len(mf.fields) > 0 && ods.Get(0).Fields().Len() == fds.Len() {
		mf.oneof = ods.Get(0)
	}
	messageFieldsCache.Store(md.FullName(), mf)
	return mf
}

// parseTreeVersion is the parse tree version pg_query's deparser expects.
var parseTreeVersion = func() int32 {
	res, err := pg_query.Parse("SELECT 1")
	if err != nil {
		panic(err)
	}
	return res.Version
}()

// deparse turns a statement node back into SQL.
func deparse(stmt *pg_query.Node) (string, error) {
	stmt = guardOperands(stmt)
	out, err := pg_query.Deparse(&pg_query.ParseResult{Version: parseTreeVersion, Stmts: []*pg_query.RawStmt{{Stmt: stmt}}})
	if err != nil {
		return "", pgerr.Unsupported("a construct xlgo cannot send to the datanodes yet (%v)", err)
	}
	return out, nil
}

// DeparseNode turns a statement node back into SQL.
func DeparseNode(stmt *pg_query.Node) (string, error) { return deparse(stmt) }

// parseOne parses SQL xlgo writes itself (no user input that is not quoted).
func parseOne(sql string) *pg_query.Node {
	res, err := pg_query.Parse(sql)
	if err != nil || len(res.Stmts) != 1 {
		panic(fmt.Sprintf("planner: cannot parse own SQL %q: %v", sql, err))
	}
	return res.Stmts[0].Stmt
}

// strVal is the text of a String node.
func strVal(n *pg_query.Node) string {
	if s := n.GetString_(); s != nil {
		return s.Sval
	}
	return ""
}

// funcName is a FuncCall's unqualified, lower-case name and its schema.
func funcName(fc *pg_query.FuncCall) (schema, name string) {
	parts := fc.Funcname
	if len(parts) == 0 {
		return "", ""
	}
	name = strVal(parts[len(parts)-1])
	if len(parts) > 1 {
		schema = strVal(parts[len(parts)-2])
	}
	return schema, name
}

// columnRefNames is a ColumnRef's field names ("*" for a star).
func columnRefNames(cr *pg_query.ColumnRef) []string {
	out := make([]string, 0, len(cr.Fields))
	for _, f := range cr.Fields {
		if f.GetAStar() != nil {
			out = append(out, "*")
		} else {
			out = append(out, strVal(f))
		}
	}
	return out
}

// constText gives the text of a constant as PostgreSQL would read it for a
// column, and whether it is NULL. ok is false for anything but a constant or
// a constant cast to a type in the same family as typName.
func constText(n *pg_query.Node, typName string) (text string, isNull, ok bool) {
	if n == nil {
		return "", false, false
	}
	if tc := n.GetTypeCast(); tc != nil {
		if !castKeepsType(tc.TypeName, typName) {
			return "", false, false
		}
		return constText(tc.Arg, typName)
	}
	c := n.GetAConst()
	if c == nil {
		return "", false, false
	}
	if c.Isnull {
		return "", true, true
	}
	switch v := c.Val.(type) {
	case *pg_query.A_Const_Ival:
		return fmt.Sprint(v.Ival.Ival), false, true
	case *pg_query.A_Const_Fval:
		return v.Fval.Fval, false, true
	case *pg_query.A_Const_Sval:
		return v.Sval.Sval, false, true
	case *pg_query.A_Const_Boolval:
		if v.Boolval.Boolval {
			return "true", false, true
		}
		return "false", false, true
	}
	return "", false, false
}

// castKeepsType reports whether a cast to tn leaves a value of column type
// typName unchanged for hashing (the same type, or text-like to text-like).
func castKeepsType(tn *pg_query.TypeName, typName string) bool {
	if tn == nil || len(tn.ArrayBounds) > 0 {
		return false
	}
	name := strVal(tn.Names[len(tn.Names)-1])
	return typeFamily(name) != "" && typeFamily(name) == typeFamily(typName) && len(tn.Typmods) == 0
}

func typeFamily(t string) string {
	switch strings.ToLower(distribution.NormalizeTypeName(t)) {
	case "int2", "int4", "int8", "smallint", "integer", "int", "bigint":
		return "int"
	case "text", "varchar":
		return "text"
	case "numeric", "decimal":
		return "numeric"
	case "uuid", "date", "bool", "boolean", "timestamp", "timestamptz", "bytea", "float8", "float4", "bpchar":
		return strings.ToLower(t)
	}
	return ""
}

// conjuncts splits a WHERE clause into its top-level AND terms.
func conjuncts(n *pg_query.Node) []*pg_query.Node {
	if n == nil {
		return nil
	}
	if be := n.GetBoolExpr(); be != nil && be.Boolop == pg_query.BoolExprType_AND_EXPR {
		var out []*pg_query.Node
		for _, a := range be.Args {
			out = append(out, conjuncts(a)...)
		}
		return out
	}
	return []*pg_query.Node{n}
}

// andOf rebuilds a WHERE clause from terms (nil for none).
func andOf(terms []*pg_query.Node) *pg_query.Node {
	switch len(terms) {
	case 0:
		return nil
	case 1:
		return terms[0]
	}
	return &pg_query.Node{Node: &pg_query.Node_BoolExpr{BoolExpr: &pg_query.BoolExpr{Boolop: pg_query.BoolExprType_AND_EXPR, Args: terms}}}
}

// nodeIDConst is the constant that replaces xc_node_id on one node.
func nodeIDConst(id int32) *pg_query.Node {
	return &pg_query.Node{Node: &pg_query.Node_TypeCast{TypeCast: &pg_query.TypeCast{
		Arg: &pg_query.Node{Node: &pg_query.Node_AConst{AConst: &pg_query.A_Const{
			Val: &pg_query.A_Const_Sval{Sval: &pg_query.String{Sval: fmt.Sprint(id)}}}}},
		TypeName: &pg_query.TypeName{Names: []*pg_query.Node{
			{Node: &pg_query.Node_String_{String_: &pg_query.String{Sval: "pg_catalog"}}},
			{Node: &pg_query.Node_String_{String_: &pg_query.String{Sval: "int4"}}}}, Typemod: -1},
	}}}
}

// isXCNodeID tells whether a ColumnRef names xc_node_id.
func isXCNodeID(cr *pg_query.ColumnRef) bool {
	names := columnRefNames(cr)
	return len(names) > 0 && names[len(names)-1] == "xc_node_id"
}

// mentionsXC is mentionsXCNodeID, answered from the statement's text
// when the text is at hand.
func (e *Env) mentionsXC(m proto.Message) bool {
	if e.SQL != "" && !strings.Contains(strings.ToLower(e.SQL), "xc_node_id") {
		return false
	}
	return mentionsXCNodeID(m)
}

// mentionsXCNodeID tells whether a tree refers to xc_node_id.
func mentionsXCNodeID(m proto.Message) bool {
	found := false
	walk(m, func(x proto.Message) bool {
		if cr, ok := x.(*pg_query.ColumnRef); ok && isXCNodeID(cr) {
			found = true
		}
		return !found
	})
	return found
}

// replaceXCNodeID replaces every xc_node_id reference below m by the node's id.
func replaceXCNodeID(m proto.Message, id int32) {
	walk(m, func(x proto.Message) bool {
		if rt, ok := x.(*pg_query.ResTarget); ok && rt.Name == "" {
			if cr := rt.Val.GetColumnRef(); cr != nil && isXCNodeID(cr) {
				rt.Name = "xc_node_id" // keep the column's name in the output
			}
		}
		if n, ok := x.(*pg_query.Node); ok {
			if cr := n.GetColumnRef(); cr != nil && isXCNodeID(cr) {
				n.Node = nodeIDConst(id).Node
				return false
			}
		}
		return true
	})
}

// perNodeSQL deparses stmt for each node, with xc_node_id made constant.
// sql, when set, is stmt's own text, sent as it is when nothing changes.
func perNodeSQL(stmt *pg_query.Node, nodes []string, ids map[string]int32, sql ...string) (map[string]string, error) {
	out := make(map[string]string, len(nodes))
	text := ""
	if len(sql) > 0 {
		text = sql[0]
	}
	if text != "" && !strings.Contains(strings.ToLower(text), "xc_node_id") {
		for _, n := range nodes {
			out[n] = text
		}
		return out, nil
	}
	if !mentionsXCNodeID(stmt) {
		sql, err := deparse(stmt)
		if err != nil {
			return nil, err
		}
		for _, n := range nodes {
			out[n] = sql
		}
		return out, nil
	}
	for _, n := range nodes {
		c := proto.Clone(stmt).(*pg_query.Node)
		replaceXCNodeID(c, ids[n])
		sql, err := deparse(c)
		if err != nil {
			return nil, err
		}
		out[n] = sql
	}
	return out, nil
}

// Walk visits every message below m depth first, in field order; fn
// returns false to skip a message's children.
func Walk(m proto.Message, fn func(proto.Message) bool) { walk(m, fn) }

// DescribeSQL is a statement as a datanode can prepare it to tell its
// parameter and result types: catalog views made concrete, xc_node_id a
// constant of its type.
func DescribeSQL(env *Env, stmt *pg_query.Node) (string, error) {
	c := proto.Clone(stmt).(*pg_query.Node)
	if err := injectCatalogViews(env, c); err != nil {
		return "", err
	}
	replaceXCNodeID(c, 0)
	return deparse(c)
}
