package planner

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/xlgo/xlgo/catalog"
	"github.com/xlgo/xlgo/pgerr"
)

// Env is what the planner knows of the cluster and the session.
type Env struct {
	Rel    *catalog.Relations
	Nodes  []catalog.Node // every node of pgxc_node
	Groups []catalog.Group
	// Moves are the redistributions this coordinator runs (for the
	// pgxc_rebalance_status view; tables whose moves run elsewhere or were
	// cut short come from the catalog).
	Moves func() []MoveStatus
	// StatActivity gives the rows of the pgxc_stat_activity view: the
	// backends of every datanode.
	StatActivity func() ([]BackendActivity, error)
	SearchPath   []string // schemas, "$user" already replaced
	User         string
	// SQL, when set, is the text the statement was parsed from: a statement
	// that needs no rewriting is sent as it is, and cheap looks at the text
	// spare walks of the tree.
	SQL string
	// Params are the values of $1, $2 ... when the statement has them
	// (extended protocol): routing reads them; RemoteQuery sends them along.
	Params []Param
	// inSubPlan: the statement is a SubPlan's, whose value is its last
	// parameter.
	inSubPlan bool
	// valuesRead, when set, is set once a parameter's value has decided
	// something of the plan (PlanPrepared).
	valuesRead *bool
}

// paramValue is the value of parameter p ($p) for routing: the plan
// depends on it from now on.
func (e *Env) paramValue(p Param) (text string, isNull bool) {
	if e.valuesRead != nil {
		*e.valuesRead = true
	}
	return string(p.Text), p.Text == nil
}

// Param is one parameter value in text form (nil Text is NULL) and its type.
type Param struct {
	Text []byte
	Type string // SQL type name, as format_type gives it
	// Deferred: the value is known at run time only (a SubPlan's), of type
	// Type. A statement it pins to a table's node is planned for one node,
	// whose RemoteQuery's Route names the parameter.
	Deferred bool
}

// Datanodes lists the datanode names, by name.
func (e *Env) Datanodes() []string {
	var out []string
	for _, n := range e.Nodes {
		if n.IsDatanode() {
			out = append(out, n.Name)
		}
	}
	sort.Strings(out)
	return out
}

// NodeIDs maps node names to their node_id.
func (e *Env) NodeIDs() map[string]int32 {
	m := make(map[string]int32, len(e.Nodes))
	for _, n := range e.Nodes {
		m[n.Name] = n.ID()
	}
	return m
}

// Preferred picks the node for reads that any node of nodes can answer:
// the preferred datanode, else the primary, else the first.
func (e *Env) Preferred(nodes []string) string {
	in := map[string]bool{}
	for _, n := range nodes {
		in[n] = true
	}
	for _, n := range e.Nodes {
		if n.Preferred && in[n.Name] {
			return n.Name
		}
	}
	for _, n := range e.Nodes {
		if n.Primary && in[n.Name] {
			return n.Name
		}
	}
	if len(nodes) == 0 {
		return ""
	}
	s := append([]string(nil), nodes...)
	sort.Strings(s)
	return s[0]
}

// Plan is a tree of executor primitives.
type Plan interface {
	explain(b *strings.Builder, depth int)
}

// Explain prints a plan as text, one primitive a line.
func Explain(p Plan) string {
	var b strings.Builder
	p.explain(&b, 0)
	return strings.TrimRight(b.String(), "\n")
}

func line(b *strings.Builder, depth int, format string, args ...any) {
	if depth > 0 {
		b.WriteString(strings.Repeat("  ", depth-1) + "  ->  ")
	}
	fmt.Fprintf(b, format, args...)
	b.WriteByte('\n')
}

func detail(b *strings.Builder, depth int, format string, args ...any) {
	b.WriteString(strings.Repeat("  ", depth) + "      ")
	fmt.Fprintf(b, format, args...)
	b.WriteByte('\n')
}

// RemoteQuery runs SQL on datanodes and streams back what they return, node
// after node (a Concat when there are several).
type RemoteQuery struct {
	Nodes []string          // in order
	SQL   map[string]string // per node; the same text unless xc_node_id was made constant
	Write bool              // the statement writes on every node it runs on
	// Replicated: a write to every copy of a replicated table; the client
	// sees one node's result.
	Replicated bool
	// Tag, if set, replaces the command tag (e.g. a CTAS becomes "SELECT n").
	Tag string
	// Params are sent with the SQL as the values of $1, $2 ... (text
	// format), of the types ParamOIDs (built-in types only).
	Params    [][]byte
	ParamOIDs []uint32
	// Route, when set, says the statement reads or writes one table's rows
	// of one distribution value, the constant or parameter By: the same
	// text with another value needs no new plan, only that value's node.
	Route *Route
	// Copies, when set, are the nodes that hold every table a one-node
	// read of replicated tables reads, its text the same on each: any of
	// them answers it as Nodes[0] would (the engine sends it to one its
	// transaction is on already).
	Copies []string
}

// Route is how a one-node statement's node follows from one value: a
// constant of its text or one of its parameters.
type Route struct {
	Table *catalog.Table
	// ConstAt is where the constant starts in the statement's text (-1:
	// the value is a parameter, or NULL).
	ConstAt int32
	// Param is the number of the parameter ($1 is 1; 0: a constant).
	Param int
}

// routeBy is the Route of a statement pinned to table's node by the
// constant or parameter by.
func routeBy(table *catalog.Table, by *pg_query.Node) *Route {
	r := &Route{Table: table, ConstAt: -1}
	if c := by.GetAConst(); c != nil && !c.Isnull {
		r.ConstAt = c.Location
	} else if p := by.GetParamRef(); p != nil {
		r.Param = int(p.Number)
	}
	return r
}

func (r *RemoteQuery) explain(b *strings.Builder, depth int) {
	scope := "all"
	if r.Replicated {
		scope = "all replicas"
	} else if len(r.Nodes) == 1 && !r.Write {
		scope = "any"
	}
	line(b, depth, "Remote Subquery Scan on %s (%s)", scope, strings.Join(r.Nodes, ","))
	if len(r.Nodes) > 0 {
		detail(b, depth, "Remote SQL: %s", r.SQL[r.Nodes[0]])
	}
}

// GatherInput is one distributed table's rows pulled to the coordinator.
type GatherInput struct {
	Table   string // qualified name, for EXPLAIN
	Nodes   []string
	SQL     map[string]string // per node
	Columns []string          // column names of the rows fetched
	Types   []string          // their types (format_type)
	// Collations are the columns' own collations ("" for the type's default).
	Collations []string
}

// GatherEval pulls the rows of distributed tables from the datanodes and
// evaluates the whole query over them on one PostgreSQL, so every construct
// keeps PostgreSQL's own semantics. The pulled columns, input after
// input, are passed as the text[] parameters after the first ParamBase.
type GatherEval struct {
	Inputs []GatherInput
	Node   string // where the final query runs
	SQL    string // the query over unnest($n::text[]) subqueries
	// Parts and Holes, set in place of SQL when the query names types only
	// the datanodes know: the query is Parts[0], the name of the type of
	// Holes[0], Parts[1], ... Parts[len(Holes)].
	Parts []string
	Holes []TypeHole
	// ParamBase is the number of parameters the final query reads before
	// the pulled arrays: the value of a SubPlan's subquery.
	ParamBase int
	// ReadsTables: the final query reads tables of its node too
	// (replicated ones, WITH queries), not only the pulled rows.
	ReadsTables bool
}

// TypeHole is a place in a GatherEval's final query for the name of the
// type the datanodes report for column Column of input Input.
type TypeHole struct{ Input, Column int }

func (g *GatherEval) explain(b *strings.Builder, depth int) {
	line(b, depth, "Coordinator Evaluate on (%s)", g.Node)
	sql := g.SQL
	if len(g.Holes) > 0 {
		var s strings.Builder
		for i, h := range g.Holes {
			fmt.Fprintf(&s, "%s<type of %s>", g.Parts[i], g.Inputs[h.Input].Columns[h.Column])
		}
		sql = s.String() + g.Parts[len(g.Holes)]
	}
	detail(b, depth, "SQL: %s", sql)
	for _, in := range g.Inputs {
		line(b, depth+1, "Remote Subquery Scan on all (%s)", strings.Join(in.Nodes, ","))
		detail(b, depth+1, "Remote SQL: %s", in.SQL[in.Nodes[0]])
	}
}

// InsertRows routes the rows of an INSERT to the nodes that hold them.
type InsertRows struct {
	Table    *catalog.Table // nil for a table outside the distribution catalog
	Relation string         // the target as the statement names it, for EXPLAIN
	Columns  []string       // target columns in the order of each row's values
	// Rows are the rows of an INSERT ... VALUES; nil when the rows come
	// from Source.
	Rows   [][]InsertValue
	Source Plan // INSERT ... SELECT: the plan producing the rows
	// Head and Tail are the statement sent to a node around its rows:
	// Head + " VALUES (...), (...)" + Tail. Head names Columns, then the
	// distribution column when FillDefault, then SeqColumns' columns.
	Head, Tail string
	// DefaultValues is the statement sent when no column is named at all
	// (INSERT ... DEFAULT VALUES).
	DefaultValues string
	// DistIndex is the position of the distribution column in Columns (-1 none).
	DistIndex int
	// FillDefault: the distribution column was not given; its default must
	// be evaluated once per row and added to each row.
	FillDefault bool
	Nodes       []string // the table's nodes
	EvalNode    string   // where expressions are evaluated before routing
	// SeqColumns are columns the INSERT leaves to a default that takes the
	// next value of a sequence: the coordinator fills them from the GTM's
	// global sequence, so every node stores a cluster-wide unique value.
	SeqColumns []SeqColumn
	// DefaultSequences maps each column whose default is nextval of a
	// sequence to that sequence: a row's DEFAULT for it takes the GTM's
	// global value.
	DefaultSequences map[string]string
	// OverrideSystem: a filled column is GENERATED ALWAYS AS IDENTITY, so
	// the INSERT says OVERRIDING SYSTEM VALUE for the value it brings.
	OverrideSystem bool
}

// InsertValue is one value of a row of INSERT ... VALUES, as data.
type InsertValue struct {
	SQL     string // the expression as a datanode reads it ("DEFAULT" for a default)
	Default bool   // DEFAULT
	// Literal: a constant that every node reads alike (not 'now' and its kin).
	Literal bool
	// Known: the value as its column reads it is Text (or NULL) already,
	// without evaluating anything (set for the distribution column).
	Known bool
	Text  string
	Null  bool
}

// SeqColumn is a column whose default is nextval of a sequence.
type SeqColumn struct {
	Column   string
	Sequence string // as the default names it ('s'::regclass text)
}

var nextvalDefault = regexp.MustCompile(`^nextval\('((?:[^']|'')*)'::regclass\)$`)

// SequenceOfDefault tells whether a column default is nextval('s') and of which sequence.
func SequenceOfDefault(def string) (string, bool) {
	m := nextvalDefault.FindStringSubmatch(def)
	if m == nil {
		return "", false
	}
	return strings.ReplaceAll(m[1], "''", "'"), true
}

func (p *InsertRows) explain(b *strings.Builder, depth int) {
	kind := "Replicated"
	if p.Table != nil {
		kind = p.Table.Locator.Kind.String()
	}
	col := ""
	if p.DistIndex >= 0 {
		col = " by " + p.Columns[p.DistIndex]
	}
	line(b, depth, "Remote Insert on %s (%s) distribute %s%s", p.Relation, strings.Join(p.Nodes, ","), kind, col)
	if p.Source != nil {
		p.Source.explain(b, depth+1)
	} else {
		detail(b, depth, "Rows: %d VALUES rows routed at the coordinator", len(p.Rows))
	}
}

func tableName(rv *pg_query.RangeVar) string {
	if rv == nil {
		return ""
	}
	if rv.Schemaname != "" {
		return rv.Schemaname + "." + rv.Relname
	}
	return rv.Relname
}

// PlanPrepared plans a statement with its parameters' values (env.Params)
// and tells whether the plan is generic: no value decided a node, so the
// plan runs as well with any other values, given to it by SetParams (or,
// for a RemoteQuery, its Params).
func PlanPrepared(env *Env, stmt *pg_query.Node) (plan Plan, generic bool, err error) {
	read := false
	env.valuesRead = &read
	defer func() { env.valuesRead = nil }()
	plan, err = PlanStatement(env, stmt)
	return plan, !read, err
}

// PlanStatement plans a query or a data-modifying statement (SELECT, INSERT, UPDATE,
// DELETE) against the catalog snapshot env holds: the one planning entry of
// the engine, for the simple and the extended protocol and EXPLAIN alike.
func PlanStatement(env *Env, stmt *pg_query.Node) (Plan, error) {
	switch {
	case stmt.GetSelectStmt() != nil:
		return PlanSelect(env, stmt)
	case stmt.GetInsertStmt() != nil:
		return PlanInsert(env, stmt)
	case stmt.GetUpdateStmt() != nil, stmt.GetDeleteStmt() != nil:
		return PlanModify(env, stmt)
	}
	return nil, pgerr.Unsupported("planning a %s", statementKind(stmt))
}

// statementKind names a statement's kind for an error: "MergeStmt" ...
func statementKind(stmt *pg_query.Node) string {
	if stmt == nil || stmt.Node == nil {
		return "statement"
	}
	return strings.TrimPrefix(fmt.Sprintf("%T", stmt.Node), "*pg_query.Node_")
}

// BackendActivity is one row of a datanode's pg_stat_activity as
// pgxc_stat_activity shows it; nil is NULL. Times are ISO 8601 in UTC.
type BackendActivity struct {
	Node                                   string
	PID                                    int32
	Database, User, ApplicationName, State *string
	Query                                  *string
	BackendStart, XactStart, QueryStart    *string
	WaitEventType, WaitEvent, BackendType  *string
	Coordinator                            *string // from application_name, for a coordinator's backend
	SessionID                              uint64  // the session of this coordinator that holds it; 0: none
}

// MoveStatus is a redistribution of one table in progress.
type MoveStatus struct {
	Coordinator  string
	Database     string
	Table        string // schema-qualified, quoted where needed
	Phase        string
	Source, Dest string // the pair of nodes moving now ("" between pairs)
	Target       string // the node list the table moves to (comma-separated)
	BucketsTotal int
	BucketsDone  int
	Rows, Bytes  int64
	RowsPerSec   float64
	Started      time.Time
}
