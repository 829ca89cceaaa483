package ops

import (
	"fmt"
	"math/big"
	"strings"
)

// NumericCond is a predicate comparing a text column of integers or
// numerics (NULL: the comparison is NULL, so false) with a number, as
// PostgreSQL's numeric comparison does: -Infinity < every finite value <
// Infinity < NaN, and NaN equals NaN.
func NumericCond(col int, op, value string) (func(Row) (bool, error), error) {
	c, err := parseNumeric(value)
	if err != nil {
		return nil, err
	}
	var test func(int) bool
	switch op {
	case "=":
		test = func(x int) bool { return x == 0 }
	case "<>", "!=":
		test = func(x int) bool { return x != 0 }
	case "<":
		test = func(x int) bool { return x < 0 }
	case "<=":
		test = func(x int) bool { return x <= 0 }
	case ">":
		test = func(x int) bool { return x > 0 }
	case ">=":
		test = func(x int) bool { return x >= 0 }
	default:
		return nil, fmt.Errorf("ops: no numeric comparison %q", op)
	}
	return func(r Row) (bool, error) {
		if col < 0 || col >= len(r) {
			return false, fmt.Errorf("ops: column %d out of range (%d columns)", col, len(r))
		}
		if r[col] == nil {
			return false, nil
		}
		v, err := parseNumeric(string(r[col]))
		if err != nil {
			return false, err
		}
		return test(v.cmp(c)), nil
	}, nil
}

// number is a numeric value: finite (rat), or rank -1 (-Infinity), 1
// (Infinity), 2 (NaN).
type number struct {
	rank int
	rat  *big.Rat
}

func parseNumeric(s string) (number, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "nan":
		return number{rank: 2}, nil
	case "infinity", "+infinity", "inf", "+inf":
		return number{rank: 1}, nil
	case "-infinity", "-inf":
		return number{rank: -1}, nil
	}
	r, ok := new(big.Rat).SetString(strings.TrimSpace(s))
	if !ok {
		return number{}, fmt.Errorf("ops: %q is not a number", s)
	}
	return number{rat: r}, nil
}

func (a number) cmp(b number) int {
	if a.rank != b.rank {
		if a.rank < b.rank {
			return -1
		}
		return 1
	}
	if a.rank != 0 {
		return 0
	}
	return a.rat.Cmp(b.rat)
}
