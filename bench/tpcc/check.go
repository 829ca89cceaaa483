package tpcc

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"math/big"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// Conditions are the consistency conditions Check verifies (clause 3.3.2).
var Conditions = []string{
	"3.3.2.1 W_YTD = sum(D_YTD)",
	"3.3.2.2 D_NEXT_O_ID - 1 = max(O_ID) = max(NO_O_ID)",
	"3.3.2.3 max(NO_O_ID) - min(NO_O_ID) + 1 = count(NEW_ORDER)",
	"3.3.2.4 sum(O_OL_CNT) = count(ORDER_LINE)",
	"3.3.2.5 O_CARRIER_ID is null iff a NEW_ORDER row exists",
	"3.3.2.6 O_OL_CNT = count(ORDER_LINE) of each order",
	"3.3.2.7 OL_DELIVERY_D is null iff O_CARRIER_ID is null",
	"3.3.2.8 W_YTD = sum(H_AMOUNT)",
	"3.3.2.9 D_YTD = sum(H_AMOUNT)",
	"3.3.2.10 C_BALANCE = sum(delivered OL_AMOUNT) - sum(H_AMOUNT)",
	"3.3.2.12 C_BALANCE + C_YTD_PAYMENT = sum(delivered OL_AMOUNT)",
}

// maxViolations bounds the violations a failed Check lists.
const maxViolations = 20

// CheckError lists the violated conditions.
type CheckError struct {
	Violations []string
	More       int // violations found beyond the listed ones
}

func (e *CheckError) Error() string {
	s := "consistency check failed:\n  " + strings.Join(e.Violations, "\n  ")
	if e.More > 0 {
		s += fmt.Sprintf("\n  and %d more", e.More)
	}
	return s
}

// checker collects violations.
type checker struct {
	conn *pgx.Conn
	errs CheckError
	// no and ol are the aggregates of new_order and order_line by district.
	no, ol byKey
}

func (c *checker) fail(format string, args ...any) {
	if len(c.errs.Violations) < maxViolations {
		c.errs.Violations = append(c.errs.Violations, fmt.Sprintf(format, args...))
	} else {
		c.errs.More++
	}
}

// key is a warehouse, a district and an order or customer number.
type key struct{ w, d, n int }

// byKey are the values of a query's rows by key.
type byKey = map[key][]int64

// keyed is a query whose first keys columns are the key of its rows.
type keyed struct {
	into *byKey
	keys int
	sql  string
}

// queries runs each query with args into its rows.
func (c *checker) queries(ctx context.Context, args []any, qs ...keyed) error {
	for _, q := range qs {
		var err error
		if *q.into, err = c.query(ctx, q.keys, q.sql, args...); err != nil {
			return err
		}
	}
	return nil
}

// query reads rows of up to three integer key columns followed by integer or
// numeric values (numerics read in cents, as amounts are numeric(n,2)).
func (c *checker) query(ctx context.Context, keys int, sql string, args ...any) (byKey, error) {
	rows, err := c.conn.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("check: %s: %w", sql, err)
	}
	defer rows.Close()
	out := byKey{}
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return nil, fmt.Errorf("check: %s: %w", sql, err)
		}
		var k key
		ks := []*int{&k.w, &k.d, &k.n}
		var vs []int64
		for i, v := range vals {
			n, err := toInt(v)
			if err != nil {
				return nil, fmt.Errorf("check: %s: column %d: %w", sql, i+1, err)
			}
			if i < keys {
				*ks[i] = int(n)
			} else {
				vs = append(vs, n)
			}
		}
		out[k] = vs
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("check: %s: %w", sql, err)
	}
	return out, nil
}

// toInt converts an integer, or a numeric to hundredths.
func toInt(v any) (int64, error) {
	switch v := v.(type) {
	case nil:
		return 0, nil
	case int16:
		return int64(v), nil
	case int32:
		return int64(v), nil
	case int64:
		return v, nil
	case pgtype.Numeric:
		if !v.Valid {
			return 0, nil
		}
		n := new(big.Int).Set(v.Int)
		exp := v.Exp + 2
		ten := big.NewInt(10)
		for ; exp > 0; exp-- {
			n.Mul(n, ten)
		}
		for ; exp < 0; exp++ {
			q, r := new(big.Int).QuoRem(n, ten, new(big.Int))
			if r.Sign() != 0 {
				return 0, fmt.Errorf("%v has more than two decimals", v)
			}
			n = q
		}
		return n.Int64(), nil
	}
	return 0, fmt.Errorf("unexpected %T", v)
}

func amount(cents int64) string {
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	return fmt.Sprintf("%s%d.%02d", sign, cents/100, cents%100)
}

// Check verifies the consistency conditions of Conditions on the database of
// conn and returns a *CheckError listing the violations, each with its
// warehouse, district or customer and the values that differ. The database
// should be quiet: no terminal running.
func Check(ctx context.Context, conn *pgx.Conn) error {
	c := &checker{conn: conn}
	if err := c.run(ctx); err != nil {
		return err
	}
	if len(c.errs.Violations) > 0 {
		return &c.errs
	}
	return nil
}

func (c *checker) run(ctx context.Context) error {
	var wh, dist, dytd, ord, no, ol, hw, hd byKey
	if err := c.queries(ctx, nil,
		keyed{&wh, 1, "SELECT w_id, w_ytd FROM warehouse"},
		keyed{&dist, 2, "SELECT d_w_id, d_id, d_ytd, d_next_o_id FROM district"},
		keyed{&dytd, 1, "SELECT d_w_id, sum(d_ytd) FROM district GROUP BY d_w_id"},
		keyed{&ord, 2, "SELECT o_w_id, o_d_id, max(o_id), sum(o_ol_cnt), count(*) - count(o_carrier_id) FROM orders GROUP BY o_w_id, o_d_id"},
		keyed{&no, 2, "SELECT no_w_id, no_d_id, max(no_o_id), min(no_o_id), count(*) FROM new_order GROUP BY no_w_id, no_d_id"},
		keyed{&ol, 2, "SELECT ol_w_id, ol_d_id, count(*) FROM order_line GROUP BY ol_w_id, ol_d_id"},
		keyed{&hw, 1, "SELECT h_w_id, sum(h_amount) FROM history GROUP BY h_w_id"},
		keyed{&hd, 2, "SELECT h_w_id, h_d_id, sum(h_amount) FROM history GROUP BY h_w_id, h_d_id"},
	); err != nil {
		return err
	}
	if len(wh) == 0 {
		c.fail("no warehouse")
	}
	for _, k := range sorted(wh) {
		v := wh[k]
		ytd := v[0] // amounts are read in cents
		if s := first(dytd[k]); ytd != s {
			c.fail("3.3.2.1 warehouse %d: w_ytd = %s, sum(d_ytd) = %s", k.w, amount(ytd), amount(s))
		}
		if h := first(hw[k]); h != ytd {
			c.fail("3.3.2.8 warehouse %d: w_ytd = %s, sum(h_amount) = %s", k.w, amount(ytd), amount(h))
		}
	}
	for _, k := range sorted(dist) {
		v := dist[k]
		ytd, next := v[0], v[1]
		o, n, l := ord[k], no[k], ol[k]
		if o == nil {
			c.fail("3.3.2.2 warehouse %d district %d: no orders", k.w, k.d)
			continue
		}
		maxO, olCnt, nullCarrier := o[0], o[1]/100, o[2] // sum(o_ol_cnt) is a numeric, read in hundredths
		if next-1 != maxO {
			c.fail("3.3.2.2 warehouse %d district %d: d_next_o_id - 1 = %d, max(o_id) = %d", k.w, k.d, next-1, maxO)
		}
		if n != nil {
			if next-1 != n[0] {
				c.fail("3.3.2.2 warehouse %d district %d: d_next_o_id - 1 = %d, max(no_o_id) = %d", k.w, k.d, next-1, n[0])
			}
			if n[0]-n[1]+1 != n[2] {
				c.fail("3.3.2.3 warehouse %d district %d: max(no_o_id) - min(no_o_id) + 1 = %d, count(new_order) = %d", k.w, k.d, n[0]-n[1]+1, n[2])
			}
		}
		if olCnt != first(l) {
			c.fail("3.3.2.4 warehouse %d district %d: sum(o_ol_cnt) = %d, count(order_line) = %d", k.w, k.d, olCnt, first(l))
		}
		if nullCarrier != third(n) {
			c.fail("3.3.2.5 warehouse %d district %d: orders without carrier = %d, new_order rows = %d", k.w, k.d, nullCarrier, third(n))
		}
		if h := first(hd[k]); ytd != h {
			c.fail("3.3.2.9 warehouse %d district %d: d_ytd = %s, sum(h_amount) = %s", k.w, k.d, amount(ytd), amount(h))
		}
	}
	c.no, c.ol = no, ol
	for _, k := range sorted(wh) {
		if err := c.warehouse(ctx, k.w); err != nil {
			return err
		}
	}
	return nil
}

// sorted are the keys of m in order, so that violations are listed by
// warehouse, district and number.
func sorted(m byKey) []key {
	ks := slices.Collect(maps.Keys(m))
	slices.SortFunc(ks, func(a, b key) int {
		return cmp.Or(cmp.Compare(a.w, b.w), cmp.Compare(a.d, b.d), cmp.Compare(a.n, b.n))
	})
	return ks
}

func first(v []int64) int64 {
	if len(v) < 1 {
		return 0
	}
	return v[0]
}

func third(v []int64) int64 {
	if len(v) < 3 {
		return 0
	}
	return v[2]
}

// warehouse checks the per-order and per-customer conditions of warehouse w.
// Every join is between rows of w, which xlgo keeps on one datanode. Its
// queries' rows are keyed by district (in key.w) and order or customer.
func (c *checker) warehouse(ctx context.Context, w int) error {
	var matched, badCount, joined, badDelivery, cust, delivered, paid byKey
	const orderLines = "orders JOIN order_line ON ol_w_id = o_w_id AND ol_d_id = o_d_id AND ol_o_id = o_id WHERE o_w_id = $1 AND ol_w_id = $1"
	if err := c.queries(ctx, []any{w},
		keyed{&matched, 1, "SELECT o_d_id, count(*) FROM new_order JOIN orders ON o_w_id = no_w_id AND o_d_id = no_d_id AND o_id = no_o_id WHERE no_w_id = $1 AND o_w_id = $1 AND o_carrier_id IS NULL GROUP BY o_d_id"},
		keyed{&badCount, 2, "SELECT o_d_id, o_id, o_ol_cnt, count(*) FROM " + orderLines + " GROUP BY o_d_id, o_id, o_ol_cnt HAVING o_ol_cnt <> count(*)"},
		keyed{&joined, 1, "SELECT o_d_id, count(*) FROM " + orderLines + " GROUP BY o_d_id"},
		keyed{&badDelivery, 2, "SELECT o_d_id, o_id, count(*) FROM " + orderLines + " AND (o_carrier_id IS NULL) <> (ol_delivery_d IS NULL) GROUP BY o_d_id, o_id"},
		keyed{&cust, 2, "SELECT c_d_id, c_id, c_balance, c_ytd_payment FROM customer WHERE c_w_id = $1"},
		keyed{&delivered, 2, "SELECT o_d_id, o_c_id, sum(ol_amount) FROM " + orderLines + " AND ol_delivery_d IS NOT NULL GROUP BY o_d_id, o_c_id"},
		keyed{&paid, 2, "SELECT h_c_d_id, h_c_id, sum(h_amount) FROM history WHERE h_c_w_id = $1 GROUP BY h_c_d_id, h_c_id"},
	); err != nil {
		return err
	}
	// 3.3.2.5, order by order: every new_order row has its order, without a
	// carrier (with the counts per district compared in run, the orders
	// without a carrier are exactly those with a new_order row).
	// 3.3.2.6: every order with order lines has o_ol_cnt of them, and no
	// order line is without its order (with 3.3.2.4, no order is without
	// its lines).
	for d := 1; d <= Districts; d++ {
		if n, m := third(c.no[key{w: w, d: d}]), first(matched[key{w: d}]); n != m {
			c.fail("3.3.2.5 warehouse %d district %d: new_order rows = %d, of which for an order without a carrier = %d", w, d, n, m)
		}
		if n, m := first(c.ol[key{w: w, d: d}]), first(joined[key{w: d}]); n != m {
			c.fail("3.3.2.6 warehouse %d district %d: order lines = %d, of which of an existing order = %d", w, d, n, m)
		}
	}
	for _, k := range sorted(badCount) {
		v := badCount[k]
		c.fail("3.3.2.6 warehouse %d district %d order %d: o_ol_cnt = %d, order lines = %d", w, k.w, k.d, v[0]/100, v[1])
	}
	for _, k := range sorted(badDelivery) {
		c.fail("3.3.2.7 warehouse %d district %d order %d: %d order lines whose ol_delivery_d is null while o_carrier_id is not, or the reverse",
			w, k.w, k.d, badDelivery[k][0])
	}
	// 3.3.2.10 and 3.3.2.12
	for _, k := range sorted(cust) {
		v := cust[k]
		balance, ytd := v[0], v[1]
		ol, h := first(delivered[k]), first(paid[k])
		if balance != ol-h {
			c.fail("3.3.2.10 warehouse %d district %d customer %d: c_balance = %s, sum(delivered ol_amount) - sum(h_amount) = %s",
				w, k.w, k.d, amount(balance), amount(ol-h))
		}
		if balance+ytd != ol {
			c.fail("3.3.2.12 warehouse %d district %d customer %d: c_balance + c_ytd_payment = %s, sum(delivered ol_amount) = %s",
				w, k.w, k.d, amount(balance+ytd), amount(ol))
		}
	}
	return nil
}
