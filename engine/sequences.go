package engine

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"

	"github.com/xlgo/xlgo/executor"
	"github.com/xlgo/xlgo/gtmclient"
	"github.com/xlgo/xlgo/pgerr"
	"github.com/xlgo/xlgo/planner"
)

// Sequences are global: their values come from the GTM in ranges cached per
// coordinator, so nextval gives each value once in the whole cluster. A
// sequence the GTM does not know yet (made by CREATE SEQUENCE or a serial
// column on the datanodes) is taken over from the datanodes' definition at
// its first use.

// seqKey is the GTM's name of a sequence: database.schema.name.
func (s *session) seqKey(ctx context.Context, regclassText string) (string, error) {
	ck := strings.Join(s.searchPath, ",") + "|" + regclassText
	if k, ok := s.seqNames[ck]; ok {
		return k, nil
	}
	dn, ok := s.co.preferredDatanode()
	if !ok {
		return "", pgerr.New(pgerr.UndefinedObject, "no datanode is defined")
	}
	c, err := s.Conn(ctx, dn.Name, false)
	if err != nil {
		return "", err
	}
	res, err := c.Exec(ctx, "SELECT n.nspname, c.relname, c.relkind FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = "+
		quoteLiteral(regclassText)+"::regclass").ReadAll()
	if err != nil {
		return "", executor.NodeError(dn.Name, err)
	}
	if len(res) != 1 || len(res[0].Rows) != 1 {
		return "", pgerr.New(pgerr.UndefinedTable, "relation %q does not exist", regclassText)
	}
	r := res[0].Rows[0]
	if string(r[2]) != "S" {
		return "", pgerr.New(pgerr.WrongObjectType, "%q is not a sequence", string(r[1]))
	}
	k := s.db + "." + string(r[0]) + "." + string(r[1])
	if len(s.seqNames) > 1000 {
		s.seqNames = map[string]string{}
	}
	s.seqNames[ck] = k
	return k, nil
}

// adoptSequence makes the GTM serve a sequence the datanodes define.
func (s *session) adoptSequence(ctx context.Context, key string) error {
	parts := strings.SplitN(key, ".", 3)
	dn, ok := s.co.preferredDatanode()
	if !ok {
		return pgerr.New(pgerr.UndefinedObject, "no datanode is defined")
	}
	c, err := s.Conn(ctx, dn.Name, false)
	if err != nil {
		return err
	}
	res, err := c.Exec(ctx, "SELECT start_value, min_value, max_value, increment_by, cycle, last_value FROM pg_catalog.pg_sequences WHERE schemaname = "+
		quoteLiteral(parts[1])+" AND sequencename = "+quoteLiteral(parts[2])).ReadAll()
	if err != nil {
		return executor.NodeError(dn.Name, err)
	}
	if len(res) != 1 || len(res[0].Rows) != 1 {
		return pgerr.New(pgerr.UndefinedTable, "relation %q does not exist", parts[2])
	}
	r := res[0].Rows[0]
	num := func(b []byte) int64 { v, _ := strconv.ParseInt(string(b), 10, 64); return v }
	def := gtmclient.NewSeqDef(key)
	def.Start, def.MinValue, def.MaxValue, def.Increment = num(r[0]), num(r[1]), num(r[2]), num(r[3])
	def.Cycle = string(r[4]) == "t"
	def.IfNotExists = true
	if r[5] != nil {
		// Values the datanode handed out itself are not given again.
		next := num(r[5]) + def.Increment
		if next <= def.MaxValue && next >= def.MinValue {
			def.Start = next
		}
	}
	if err := s.co.GTM.SeqCreate(ctx, def); err != nil {
		return gtmError(err)
	}
	return nil
}

// gtmError gives a GTM refusal its SQLSTATE.
func gtmError(err error) error {
	var se *gtmclient.ServerError
	if errors.As(err, &se) {
		return &pgconn.PgError{Severity: "ERROR", Code: se.SQLState(), Message: se.Message}
	}
	if errors.Is(err, gtmclient.ErrUnavailable) {
		return pgerr.New(pgerr.ConnectionFailure, "the GTM is not reachable: %v", err)
	}
	return err
}

// NextVal implements executor.Backends: the next value of a sequence named
// as in a column default ('s'::regclass text).
func (s *session) NextVal(ctx context.Context, regclassText string) (int64, error) {
	if s.co.GTM == nil {
		return 0, pgerr.New(pgerr.ConnectionFailure, "global sequences need the GTM, and none is configured")
	}
	key, err := s.seqKey(ctx, regclassText)
	if err != nil {
		return 0, err
	}
	v, err := s.co.SeqCache.Next(ctx, key)
	if err != nil {
		var se *gtmclient.ServerError
		if errors.As(err, &se) && se.SQLState() == pgerr.UndefinedTable {
			if err := s.adoptSequence(ctx, key); err != nil {
				return 0, err
			}
			v, err = s.co.SeqCache.Next(ctx, key)
		}
		if err != nil {
			return 0, gtmError(err)
		}
	}
	s.lastSeq[key] = v
	s.lastVal, s.hasLastVal = v, true
	return v, nil
}

var seqFuncs = map[string]bool{"nextval": true, "currval": true, "setval": true, "lastval": true}

// bindSequences replaces calls of nextval, currval, setval and lastval that a
// statement evaluates once by their values from the GTM. Calls evaluated
// once per row of a table are refused: each datanode would use its own
// sequence.
func (s *session) bindSequences(ctx context.Context, node *pg_query.Node) error {
	perRow := map[*pg_query.FuncCall]bool{}
	mark := func(ms ...proto.Message) {
		for _, m := range ms {
			planner.Walk(m, func(x proto.Message) bool {
				if fc, ok := x.(*pg_query.FuncCall); ok {
					perRow[fc] = true
				}
				return true
			})
		}
	}
	var calls []*pg_query.Node
	planner.Walk(node, func(x proto.Message) bool {
		switch v := x.(type) {
		case *pg_query.ResTarget:
			// The column keeps the function's name once the call is a constant.
			if fc := v.Val.GetFuncCall(); fc != nil && v.Name == "" && len(fc.Funcname) > 0 {
				if name := fc.Funcname[len(fc.Funcname)-1].GetString_().GetSval(); seqFuncs[name] {
					v.Name = name
				}
			}
		case *pg_query.SelectStmt:
			if len(v.FromClause) > 0 {
				for _, t := range v.TargetList {
					mark(t)
				}
				mark(v.WhereClause, v.HavingClause)
				for _, l := range [][]*pg_query.Node{v.GroupClause, v.SortClause, v.DistinctClause} {
					for _, t := range l {
						mark(t)
					}
				}
			}
		case *pg_query.UpdateStmt:
			for _, t := range v.TargetList {
				mark(t)
			}
			mark(v.WhereClause)
		case *pg_query.DeleteStmt:
			mark(v.WhereClause)
		case *pg_query.Node:
			if fc := v.GetFuncCall(); fc != nil && len(fc.Funcname) > 0 {
				name := fc.Funcname[len(fc.Funcname)-1].GetString_().GetSval()
				if seqFuncs[name] && (len(fc.Funcname) == 1 || fc.Funcname[0].GetString_().GetSval() == "pg_catalog") {
					calls = append(calls, v)
				}
			}
		}
		return true
	})
	for _, n := range calls {
		fc := n.GetFuncCall()
		name := fc.Funcname[len(fc.Funcname)-1].GetString_().GetSval()
		if perRow[fc] {
			return planner.Unsupported("%s() evaluated for each row of a query over tables", name)
		}
		v, err := s.sequenceCall(ctx, name, fc.Args)
		if err != nil {
			return err
		}
		n.Node = &pg_query.Node_TypeCast{TypeCast: &pg_query.TypeCast{
			Arg: &pg_query.Node{Node: &pg_query.Node_AConst{AConst: &pg_query.A_Const{
				Val: &pg_query.A_Const_Sval{Sval: &pg_query.String{Sval: strconv.FormatInt(v, 10)}}}}},
			TypeName: &pg_query.TypeName{Names: []*pg_query.Node{
				{Node: &pg_query.Node_String_{String_: &pg_query.String{Sval: "pg_catalog"}}},
				{Node: &pg_query.Node_String_{String_: &pg_query.String{Sval: "int8"}}}}, Typemod: -1}}}
	}
	return nil
}

// constString is the text of a string constant, possibly cast (to regclass).
func constString(n *pg_query.Node) (string, bool) {
	if tc := n.GetTypeCast(); tc != nil {
		n = tc.Arg
	}
	if c := n.GetAConst(); c != nil && c.GetSval() != nil {
		return c.GetSval().Sval, true
	}
	return "", false
}

func constInt(n *pg_query.Node) (int64, bool) {
	if tc := n.GetTypeCast(); tc != nil {
		n = tc.Arg
	}
	c := n.GetAConst()
	if c == nil {
		return 0, false
	}
	switch {
	case c.GetIval() != nil:
		return int64(c.GetIval().Ival), true
	case c.GetFval() != nil:
		v, err := strconv.ParseInt(c.GetFval().Fval, 10, 64)
		return v, err == nil
	case c.GetSval() != nil:
		v, err := strconv.ParseInt(strings.TrimSpace(c.GetSval().Sval), 10, 64)
		return v, err == nil
	}
	return 0, false
}

func (s *session) sequenceCall(ctx context.Context, name string, args []*pg_query.Node) (int64, error) {
	if name == "lastval" {
		if !s.hasLastVal {
			return 0, pgerr.New(pgerr.ObjectNotInPrerequisiteState, "lastval is not yet defined in this session")
		}
		return s.lastVal, nil
	}
	if len(args) == 0 {
		return 0, pgerr.New(pgerr.UndefinedFunction, "function %s() does not exist", name)
	}
	seq, ok := constString(args[0])
	if !ok {
		return 0, planner.Unsupported("%s() with a sequence name that is not a constant", name)
	}
	switch name {
	case "nextval":
		return s.NextVal(ctx, seq)
	case "currval":
		key, err := s.seqKey(ctx, seq)
		if err != nil {
			return 0, err
		}
		v, ok := s.lastSeq[key]
		if !ok {
			return 0, pgerr.New(pgerr.ObjectNotInPrerequisiteState, "currval of sequence %q is not yet defined in this session", seq)
		}
		return v, nil
	}
	// setval(seq, value [, is_called])
	if len(args) < 2 {
		return 0, pgerr.New(pgerr.UndefinedFunction, "function setval(unknown) does not exist")
	}
	v, ok := constInt(args[1])
	if !ok {
		return 0, planner.Unsupported("setval() with a value that is not a constant")
	}
	called := true
	if len(args) > 2 {
		if c := args[2].GetAConst(); c != nil && c.GetBoolval() != nil {
			called = c.GetBoolval().Boolval
		}
	}
	if s.co.GTM == nil {
		return 0, pgerr.New(pgerr.ConnectionFailure, "global sequences need the GTM, and none is configured")
	}
	key, err := s.seqKey(ctx, seq)
	if err != nil {
		return 0, err
	}
	err = s.co.GTM.SeqSetval(ctx, key, v, called)
	var se *gtmclient.ServerError
	if errors.As(err, &se) && se.SQLState() == pgerr.UndefinedTable {
		if err = s.adoptSequence(ctx, key); err == nil {
			err = s.co.GTM.SeqSetval(ctx, key, v, called)
		}
	}
	if err != nil {
		return 0, gtmError(err)
	}
	s.co.SeqCache.Forget(key)
	if called {
		s.lastSeq[key] = v
	}
	return v, nil
}

// forgetSequences drops the GTM's state of sequences a DDL statement
// removes or recreates, so that a new sequence of the same name starts anew.
func (s *session) forgetSequences(ctx context.Context, node *pg_query.Node) {
	if s.co.GTM == nil {
		return
	}
	var names []string
	switch {
	case node.GetCreateSeqStmt() != nil:
		rv := node.GetCreateSeqStmt().Sequence
		names = append(names, rangeVarText(rv))
	case node.GetDropStmt() != nil && node.GetDropStmt().RemoveType == pg_query.ObjectType_OBJECT_SEQUENCE:
		for _, o := range node.GetDropStmt().Objects {
			var parts []string
			for _, p := range o.GetList().GetItems() {
				parts = append(parts, quoteIdent(p.GetString_().GetSval()))
			}
			names = append(names, strings.Join(parts, "."))
		}
	}
	for _, n := range names {
		key := s.db + "." + qualifiedForKey(n, s.searchPath)
		s.co.SeqCache.Forget(key)
		s.co.GTM.SeqDrop(ctx, key, true)
	}
	s.seqNames = map[string]string{}
}

// qualifiedForKey turns a written sequence name into schema.name for the
// GTM key (the first schema of the search path when unqualified).
func qualifiedForKey(written string, searchPath []string) string {
	parts := strings.Split(written, ".")
	unq := func(p string) string { return strings.Trim(p, `"`) }
	if len(parts) >= 2 {
		return unq(parts[len(parts)-2]) + "." + unq(parts[len(parts)-1])
	}
	schema := "public"
	for _, sp := range searchPath {
		if sp != "pg_catalog" && !strings.HasPrefix(sp, "pg_temp") {
			schema = sp
			break
		}
	}
	return schema + "." + unq(parts[0])
}
