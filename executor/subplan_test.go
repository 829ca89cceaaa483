package executor

import (
	"errors"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/xlgo/xlgo/catalog"
	"github.com/xlgo/xlgo/distribution"
	"github.com/xlgo/xlgo/planner"
)

// A SubPlan's statement routed by its Route: the value's node for a
// scalar, the values' nodes for an IN, the plan as it is when no value
// names a node.
func TestRouteByValue(t *testing.T) {
	nodes := []string{"dn1", "dn2", "dn3"}
	table := func(typ string) *catalog.Table {
		return &catalog.Table{Schema: "public", Name: "t", DistCol: 0,
			Locator: distribution.Locator{Kind: distribution.Modulo, Column: "id", TypeName: typ, Nodes: nodes}}
	}
	sp := func(in bool, typ string, all bool) *planner.SubPlan {
		rq := &planner.RemoteQuery{Nodes: []string{"dn1"}, SQL: map[string]string{"dn1": "SELECT * FROM t WHERE id = $1"},
			Route: &planner.Route{Table: table(typ), ConstAt: -1, Param: 1}}
		if all {
			rq.Nodes = nodes
			rq.SQL = map[string]string{"dn1": "Q", "dn2": "Q", "dn3": "Q"}
		}
		return &planner.SubPlan{In: in, Param: 1, Main: rq}
	}
	vals := func(v ...string) [][]byte {
		out := make([][]byte, len(v))
		for i, s := range v {
			if s != "NULL" {
				out[i] = []byte(s)
			}
		}
		return out
	}
	tests := []struct {
		name string
		p    *planner.SubPlan
		vals [][]byte
		want []string
	}{
		{"scalar", sp(false, "int4", false), vals("4"), []string{"dn2"}},
		{"scalar int8 value", sp(false, "int4", false), vals("5"), []string{"dn3"}},
		{"no row", sp(false, "int4", false), nil, []string{"dn1"}},
		{"NULL", sp(false, "int4", false), vals("NULL"), []string{"dn1"}},
		{"out of the column's range", sp(false, "int4", false), vals("99999999999"), []string{"dn1"}},
		{"in", sp(true, "int4", true), vals("3", "6", "4"), []string{"dn1", "dn2"}},
		{"in with NULLs", sp(true, "int4", true), vals("NULL", "2", "NULL"), []string{"dn3"}},
		{"in of nothing", sp(true, "int4", true), nil, []string{"dn1"}},
		{"in not routed", sp(true, "int4", true), vals("1", "x"), nodes},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := routeByValue(tc.p, tc.vals)
			if err != nil {
				t.Fatal(err)
			}
			rq := got.(*planner.RemoteQuery)
			if !slices.Equal(rq.Nodes, tc.want) {
				t.Fatalf("nodes %v, want %v", rq.Nodes, tc.want)
			}
			for _, n := range rq.Nodes {
				if rq.SQL[n] == "" {
					t.Fatalf("no SQL for %s", n)
				}
			}
		})
	}
	// A scalar that names no node of a statement planned for one: refused.
	_, err := routeByValue(sp(false, "int4", false), vals("x"))
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "0A000" {
		t.Fatalf("an unroutable value: %v, want 0A000", err)
	}
}
