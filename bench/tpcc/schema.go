package tpcc

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Districts is the number of districts per warehouse (clause 1.2).
const Districts = 10

// Scale is the size of the initial population. Its zero value, and every zero
// field, is the specification's: 100,000 items (and stock rows per
// warehouse), 3,000 customers per district. Smaller values are for tests only.
type Scale struct {
	Items                int // ITEM rows, and STOCK rows per warehouse
	CustomersPerDistrict int // CUSTOMER, HISTORY and ORDER rows per district
}

func (s Scale) items() int {
	if s.Items > 0 {
		return s.Items
	}
	return 100000
}

func (s Scale) customers() int {
	if s.CustomersPerDistrict > 0 {
		return s.CustomersPerDistrict
	}
	return 3000
}

// newOrders is the number of undelivered orders per district at load: the
// last 900 of 3,000.
func (s Scale) newOrders() int { return s.customers() * 900 / 3000 }

// lastNames is the number of distinct C_LAST values the load gives: 1,000,
// fewer when there are fewer customers per district.
func (s Scale) lastNames() int { return min(1000, s.customers()) }

// table is one table of the schema: its columns and constraints, and the
// column xlgo distributes it by ("" for a replicated table).
type table struct {
	name, body, distributeBy string
}

// addressColumns are the street, city, state and zip columns that WAREHOUSE,
// DISTRICT and CUSTOMER share, their names prefixed by p.
func addressColumns(p string) string {
	return fmt.Sprintf(`
	%[1]s_street_1 varchar(20) NOT NULL,
	%[1]s_street_2 varchar(20) NOT NULL,
	%[1]s_city varchar(20) NOT NULL,
	%[1]s_state char(2) NOT NULL,
	%[1]s_zip char(9) NOT NULL,`, p)
}

// distColumns are S_DIST_01 to S_DIST_10 of STOCK, one per district.
func distColumns() string {
	var b strings.Builder
	for d := 1; d <= Districts; d++ {
		fmt.Fprintf(&b, "\n\ts_dist_%02d char(24) NOT NULL,", d)
	}
	return b.String()
}

// columns are the column names of a table, in order, read from its DDL.
func columns(name string) []string {
	var out []string
	for _, t := range tables {
		if t.name != name {
			continue
		}
		for line := range strings.SplitSeq(t.body, "\n") {
			if f := strings.Fields(line); len(f) > 0 && f[0] != "PRIMARY" {
				out = append(out, f[0])
			}
		}
	}
	return out
}

// tables are the nine tables of clause 1.3, in load order.
var tables = []table{
	{"item", `
	i_id int NOT NULL,
	i_im_id int NOT NULL,
	i_name varchar(24) NOT NULL,
	i_price numeric(5,2) NOT NULL,
	i_data varchar(50) NOT NULL,
	PRIMARY KEY (i_id)`, ""},
	{"warehouse", `
	w_id int NOT NULL,
	w_name varchar(10) NOT NULL,
` + addressColumns("w") + `
	w_tax numeric(4,4) NOT NULL,
	w_ytd numeric(12,2) NOT NULL,
	PRIMARY KEY (w_id)`, "w_id"},
	{"district", `
	d_id int NOT NULL,
	d_w_id int NOT NULL,
	d_name varchar(10) NOT NULL,
` + addressColumns("d") + `
	d_tax numeric(4,4) NOT NULL,
	d_ytd numeric(12,2) NOT NULL,
	d_next_o_id int NOT NULL,
	PRIMARY KEY (d_w_id, d_id)`, "d_w_id"},
	{"customer", `
	c_id int NOT NULL,
	c_d_id int NOT NULL,
	c_w_id int NOT NULL,
	c_first varchar(16) NOT NULL,
	c_middle char(2) NOT NULL,
	c_last varchar(16) NOT NULL,
` + addressColumns("c") + `
	c_phone char(16) NOT NULL,
	c_since timestamp NOT NULL,
	c_credit char(2) NOT NULL,
	c_credit_lim numeric(12,2) NOT NULL,
	c_discount numeric(4,4) NOT NULL,
	c_balance numeric(12,2) NOT NULL,
	c_ytd_payment numeric(12,2) NOT NULL,
	c_payment_cnt numeric(4) NOT NULL,
	c_delivery_cnt numeric(4) NOT NULL,
	c_data varchar(500) NOT NULL,
	PRIMARY KEY (c_w_id, c_d_id, c_id)`, "c_w_id"},
	{"history", `
	h_c_id int NOT NULL,
	h_c_d_id int NOT NULL,
	h_c_w_id int NOT NULL,
	h_d_id int NOT NULL,
	h_w_id int NOT NULL,
	h_date timestamp NOT NULL,
	h_amount numeric(6,2) NOT NULL,
	h_data varchar(24) NOT NULL`, "h_w_id"},
	{"orders", `
	o_id int NOT NULL,
	o_d_id int NOT NULL,
	o_w_id int NOT NULL,
	o_c_id int NOT NULL,
	o_entry_d timestamp NOT NULL,
	o_carrier_id int,
	o_ol_cnt numeric(2) NOT NULL,
	o_all_local numeric(1) NOT NULL,
	PRIMARY KEY (o_w_id, o_d_id, o_id)`, "o_w_id"},
	{"new_order", `
	no_o_id int NOT NULL,
	no_d_id int NOT NULL,
	no_w_id int NOT NULL,
	PRIMARY KEY (no_w_id, no_d_id, no_o_id)`, "no_w_id"},
	{"order_line", `
	ol_o_id int NOT NULL,
	ol_d_id int NOT NULL,
	ol_w_id int NOT NULL,
	ol_number int NOT NULL,
	ol_i_id int NOT NULL,
	ol_supply_w_id int NOT NULL,
	ol_delivery_d timestamp,
	ol_quantity numeric(2) NOT NULL,
	ol_amount numeric(6,2) NOT NULL,
	ol_dist_info char(24) NOT NULL,
	PRIMARY KEY (ol_w_id, ol_d_id, ol_o_id, ol_number)`, "ol_w_id"},
	{"stock", `
	s_i_id int NOT NULL,
	s_w_id int NOT NULL,
	s_quantity numeric(4) NOT NULL,
` + distColumns() + `
	s_ytd numeric(8) NOT NULL,
	s_order_cnt numeric(4) NOT NULL,
	s_remote_cnt numeric(4) NOT NULL,
	s_data varchar(50) NOT NULL,
	PRIMARY KEY (s_w_id, s_i_id)`, "s_w_id"},
}

// indexes are the two secondary indexes the transactions need: customers by
// last name (Payment and Order-Status) and a customer's orders (Order-Status).
var indexes = []string{
	"CREATE INDEX customer_name ON customer (c_w_id, c_d_id, c_last, c_first)",
	"CREATE INDEX orders_customer ON orders (o_w_id, o_d_id, o_c_id, o_id)",
}

// DDL is the statements that create the schema; a method ("HASH" or
// "MODULO") adds the DISTRIBUTE BY clauses of a Postgres-XL layout: every
// table distributed by that method on its warehouse column, ITEM
// replicated. "" creates plain tables.
func DDL(method string) []string {
	var out []string
	for _, t := range tables {
		s := fmt.Sprintf("CREATE TABLE %s (%s\n)", t.name, t.body)
		if method != "" {
			if t.distributeBy == "" {
				s += " DISTRIBUTE BY REPLICATION"
			} else {
				s += fmt.Sprintf(" DISTRIBUTE BY %s (%s)", method, t.distributeBy)
			}
		}
		out = append(out, s)
	}
	return append(out, indexes...)
}

// IsXL reports whether conn is a Postgres-XL style coordinator (it has
// pgxc_node) rather than a plain PostgreSQL.
func IsXL(ctx context.Context, conn *pgx.Conn) (bool, error) {
	var n int
	err := conn.QueryRow(ctx, "SELECT count(*) FROM pgxc_node").Scan(&n)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "42P01" { // undefined_table
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("detect pgxc_node: %w", err)
	}
	return true, nil
}

// CreateSchema drops the nine tables if they exist and creates them,
// distributed by method (DDL).
func CreateSchema(ctx context.Context, conn *pgx.Conn, method string) error {
	for i := len(tables) - 1; i >= 0; i-- {
		if _, err := conn.Exec(ctx, "DROP TABLE IF EXISTS "+tables[i].name); err != nil {
			return fmt.Errorf("drop table %s: %w", tables[i].name, err)
		}
	}
	for _, s := range DDL(method) {
		if _, err := conn.Exec(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	return nil
}
