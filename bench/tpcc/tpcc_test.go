package tpcc

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xlgo/xlgo/cluster/clustertest"
)

// testScale is a population small enough for a test to load in seconds; the
// benchmark's default is the specification's.
var testScale = Scale{Items: 1000, CustomersPerDistrict: 100}

// testWarehouses is how many warehouses the test loads: with two datanodes,
// xlgo's hash sends warehouses 1 to 6 to datanode1 and 7 to datanode2, so
// seven warehouses make New-Orders with remote items and Payments of remote
// customers that span both datanodes.
const testWarehouses = 7

// fingerprints are aggregates over every table that identify a population:
// the same seed must load the same rows on every server.
var fingerprints = []string{
	"SELECT count(*), sum(i_price), sum(i_im_id), sum(length(i_data)), sum(CASE WHEN i_data LIKE '%ORIGINAL%' THEN 1 ELSE 0 END) FROM item",
	"SELECT count(*), sum(w_tax), sum(w_ytd) FROM warehouse",
	"SELECT count(*), sum(d_tax), sum(d_ytd), sum(d_next_o_id) FROM district",
	"SELECT count(*), sum(c_discount), sum(c_balance), sum(length(c_data)), sum(CASE WHEN c_credit = 'BC' THEN 1 ELSE 0 END), count(DISTINCT c_last) FROM customer",
	"SELECT count(*), sum(h_amount), sum(length(h_data)) FROM history",
	"SELECT count(*), sum(o_c_id * o_id), sum(o_carrier_id), sum(o_ol_cnt) FROM orders",
	"SELECT count(*), sum(no_o_id) FROM new_order",
	"SELECT count(*), sum(ol_i_id), sum(ol_amount), count(ol_delivery_d) FROM order_line",
	"SELECT count(*), sum(s_quantity), sum(length(s_data)), sum(CASE WHEN s_data LIKE '%ORIGINAL%' THEN 1 ELSE 0 END) FROM stock",
}

func fingerprint(t *testing.T, ctx context.Context, conn *pgx.Conn) []string {
	t.Helper()
	var out []string
	for _, q := range fingerprints {
		rows, err := conn.Query(ctx, q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		var vals []any
		for rows.Next() {
			if vals, err = rows.Values(); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		s := make([]string, len(vals))
		for i, v := range vals {
			if n, err := toInt(v); err == nil {
				s[i] = fmt.Sprint(n)
			} else {
				s[i] = fmt.Sprint(v)
			}
		}
		out = append(out, q[len("SELECT "):]+" = "+strings.Join(s, ", "))
	}
	return out
}

// counts are the rows the run added: New-Orders committed (d_next_o_id),
// Payments (history rows) and orders delivered (orders with a carrier).
func counts(t *testing.T, ctx context.Context, conn *pgx.Conn) (newOrders, payments, delivered int) {
	t.Helper()
	err := conn.QueryRow(ctx, "SELECT (SELECT sum(d_next_o_id - 1) FROM district), (SELECT count(*) FROM history), (SELECT count(o_carrier_id) FROM orders)").
		Scan(&newOrders, &payments, &delivered)
	if err != nil {
		t.Fatalf("counts: %v", err)
	}
	return
}

type side struct {
	name string
	dsns []string
}

// TestTPCC loads a small population of testWarehouses warehouses into a
// plain PostgreSQL and into xlgo (two coordinators, two datanodes), checks
// that both hold the same rows and meet the consistency conditions, runs the
// five transactions from eight terminals on each, and checks the conditions
// again, that every statement ran whole on one datanode of xlgo, and that the
// database grew by what the terminals committed; then that Check finds a
// customer whose balance was changed.
func TestTPCC(t *testing.T) {
	dur := 4 * time.Second
	if d, err := time.ParseDuration(os.Getenv("XLGO_TPCC_DURATION")); err == nil {
		dur = d
	}
	began := time.Now()
	plain := clustertest.StartPlain(t)
	xl := clustertest.Start(t, clustertest.Options{Coordinators: 2, Datanodes: 2})
	t.Logf("servers started in %v", time.Since(began).Round(time.Millisecond))
	sides := []side{
		{"postgresql", []string{plain.DSN("postgres")}},
		{"xlgo", []string{xl.CoordDSN(0, "postgres"), xl.CoordDSN(1, "postgres")}},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var loaded [][]string
	for _, s := range sides {
		conn, err := pgx.Connect(ctx, s.dsns[0])
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		isXL, err := IsXL(ctx, conn)
		if err != nil || isXL != (s.name == "xlgo") {
			t.Fatalf("%s: IsXL = %v, %v", s.name, isXL, err)
		}
		st, err := Load(ctx, LoadOptions{DSN: s.dsns[0], Warehouses: testWarehouses, Scale: testScale, Seed: 1})
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		t.Logf("%s: loaded in %v: %v", s.name, st.Duration.Round(time.Millisecond), st.Rows)
		if isXL {
			spread := warehouseSpread(t, ctx, s.dsns[0])
			t.Logf("xlgo: warehouses per datanode: %s", spread)
			if !strings.Contains(spread, "datanode1") || !strings.Contains(spread, "datanode2") {
				t.Errorf("xlgo: the warehouses are on one datanode only (%s): the run would not span datanodes", spread)
			}
		}
		if err := Check(ctx, conn); err != nil {
			t.Fatalf("%s after the load: %v", s.name, err)
		}
		loaded = append(loaded, fingerprint(t, ctx, conn))
		no0, pay0, del0 := counts(t, ctx, conn)

		stmts := &statementLog{args: map[string][]any{}}
		res, err := Run(ctx, RunOptions{DSNs: s.dsns, Terminals: 8, Duration: dur, Seed: 1,
			ConnConfig: func(c *pgx.ConnConfig) { c.Tracer = stmts }})
		if err != nil {
			t.Fatalf("%s: run: %v", s.name, err)
		}
		var out strings.Builder
		res.Print(&out)
		t.Logf("%s:\n%s%s", s.name, out.String(), res.Summary(s.name))
		for _, st := range res.Txns {
			if st.Count == 0 {
				t.Errorf("%s: no %s ran", s.name, st.Name)
			}
		}
		if err := Check(ctx, conn); err != nil {
			t.Errorf("%s after the run: %v", s.name, err)
		}
		if isXL {
			checkRouting(t, ctx, conn, stmts)
		}
		no1, pay1, del1 := counts(t, ctx, conn)
		// A violation is found, and named.
		if _, err := conn.Exec(ctx, "UPDATE customer SET c_balance = c_balance + 1 WHERE c_w_id = 2 AND c_d_id = 3 AND c_id = 4"); err != nil {
			t.Fatal(err)
		}
		const want = "3.3.2.10 warehouse 2 district 3 customer 4: c_balance = "
		if err := Check(ctx, conn); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: Check after a change of c_balance: %v, want %q", s.name, err, want)
		}
		if no1-no0 != res.Committed || pay1-pay0 != res.Payments || del1-del0 != res.Delivered {
			t.Errorf("%s: the database grew by %d orders, %d payments and %d deliveries; the terminals committed %d, %d and %d",
				s.name, no1-no0, pay1-pay0, del1-del0, res.Committed, res.Payments, res.Delivered)
		}
	}
	for i := range loaded[0] {
		if loaded[0][i] != loaded[1][i] {
			t.Errorf("the loads differ:\n%s: %s\n%s: %s", sides[0].name, loaded[0][i], sides[1].name, loaded[1][i])
		}
	}
}

// warehouseSpread is the number of warehouses on each datanode of xlgo.
func warehouseSpread(t *testing.T, ctx context.Context, dsn string) string {
	t.Helper()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	names := map[int32]string{}
	rows, _ := conn.Query(ctx, "SELECT node_id, node_name FROM pgxc_node")
	var id int32
	var name string
	if _, err := pgx.ForEachRow(rows, []any{&id, &name}, func() error { names[id] = name; return nil }); err != nil {
		t.Fatalf("pgxc_node: %v", err)
	}
	var parts []string
	var n int
	rows, _ = conn.Query(ctx, "SELECT xc_node_id, count(1) FROM warehouse GROUP BY xc_node_id ORDER BY xc_node_id")
	if _, err := pgx.ForEachRow(rows, []any{&id, &n}, func() error {
		parts = append(parts, fmt.Sprintf("%s %d", names[id], n))
		return nil
	}); err != nil {
		t.Fatalf("warehouses per datanode: %v", err)
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}
