package executor

import (
	"testing"

	"github.com/xlgo/xlgo/executor/ops"
	"github.com/xlgo/xlgo/planner"
)

// Every primitive the planner makes has its operator.
func TestTreeBuildsEveryPrimitive(t *testing.T) {
	scan := func() *planner.RemoteScan {
		return &planner.RemoteScan{Nodes: []string{"dn1", "dn2"}, SQL: map[string]string{"dn1": "SELECT 1", "dn2": "SELECT 1"}, Formats: []int16{1}}
	}
	key := []planner.SortKey{{SortKey: ops.SortKey{Col: 0}}}
	plans := []planner.Plan{
		scan(),
		&planner.MergeSort{Input: scan(), Keys: key},
		&planner.Sort{Input: scan(), Keys: key},
		&planner.Limit{Input: scan(), Count: 1},
		&planner.Project{Input: scan(), Cols: []int{0}},
		&planner.Distinct{Input: scan(), Cols: []int{0}},
		&planner.HashJoin{Left: scan(), Right: scan(), Kind: ops.JoinInner, LeftKeys: []int{0}, RightKeys: []int{0}},
		&planner.NestedLoop{Left: scan(), Right: scan()},
		&planner.FinalAgg{Input: scan(), Aggs: []ops.AggSpec{{Kind: ops.AggCountRows}}},
		&planner.WindowAgg{Input: scan(), Funcs: []ops.WindowSpec{{Kind: ops.WinRowNumber}}},
		&planner.Filter{Input: scan(), Conds: []planner.FilterCond{{Col: 0, Op: ">", Value: "1"}}},
	}
	for _, p := range plans {
		tr := &tree{nodes: map[string]bool{}, active: map[string]*nodeScan{}}
		if _, err := planner.BuildOp(tr, p); err != nil {
			t.Errorf("%T: %v", p, err)
		}
		if len(tr.scans) == 0 {
			t.Errorf("%T: no remote scan built", p)
		}
	}
}
