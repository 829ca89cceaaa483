package tpcc

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// Kind is one of the five transaction types.
type Kind int

// The five transactions of clauses 2.4 to 2.8.
const (
	NewOrder Kind = iota
	Payment
	OrderStatus
	Delivery
	StockLevel
	kinds
)

var kindNames = [kinds]string{"new-order", "payment", "order-status", "delivery", "stock-level"}

func (k Kind) String() string { return kindNames[k] }

// StmtError is an error of one statement of a transaction.
type StmtError struct {
	Txn  Kind
	Stmt string // the statement's name in its transaction's profile
	SQL  string
	Err  error
}

func (e *StmtError) Error() string {
	return fmt.Sprintf("%s: %s (%s): %v", e.Txn, e.Stmt, e.SQL, e.Err)
}

func (e *StmtError) Unwrap() error { return e.Err }

// errRollback ends a New-Order whose last item number is unused (clause
// 2.4.2.3): the transaction is rolled back on purpose.
var errRollback = errors.New("item number is not valid")

// step runs the statements of one transaction and names the failing one.
type step struct {
	kind Kind
	tx   pgx.Tx
}

func (s step) wrap(name, sql string, err error) error {
	if err == nil || errors.Is(err, errRollback) {
		return err
	}
	return &StmtError{Txn: s.kind, Stmt: name, SQL: sql, Err: err}
}

// row runs a statement that returns one row into dest.
func (s step) row(ctx context.Context, name, sql string, args []any, dest ...any) error {
	return s.wrap(name, sql, s.tx.QueryRow(ctx, sql, args...).Scan(dest...))
}

// exec runs a statement and returns the rows it affected.
func (s step) exec(ctx context.Context, name, sql string, args ...any) (int64, error) {
	tag, err := s.tx.Exec(ctx, sql, args...)
	return tag.RowsAffected(), s.wrap(name, sql, err)
}

// rows runs a query and calls each for every row.
func (s step) rows(ctx context.Context, name, sql string, args []any, each func(pgx.Rows) error) error {
	rows, err := s.tx.Query(ctx, sql, args...)
	if err != nil {
		return s.wrap(name, sql, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := each(rows); err != nil {
			return s.wrap(name, sql, err)
		}
	}
	return s.wrap(name, sql, rows.Err())
}

// values reads a row's columns, as a terminal retrieves them for display.
func values(rows pgx.Rows) error {
	_, err := rows.Values()
	return err
}

func cents(f float64) int64 { return int64(math.Round(f * 100)) }

// customerID is customer c of warehouse w and district d, or when c is 0 the
// one with last name last at position n/2 rounded up of those sorted by
// C_FIRST (clauses 2.5.2.2 and 2.6.2.2).
func (s step) customerID(ctx context.Context, w, d, c int, last string) (int, error) {
	if c != 0 {
		return c, nil
	}
	const sql = "SELECT c_id FROM customer WHERE c_w_id = $1 AND c_d_id = $2 AND c_last = $3 ORDER BY c_first"
	var ids []int
	err := s.rows(ctx, "select customers by last name", sql, []any{w, d, last}, func(r pgx.Rows) error {
		var id int
		ids = append(ids, id)
		return r.Scan(&ids[len(ids)-1])
	})
	if err != nil {
		return 0, err
	}
	if len(ids) == 0 {
		return 0, s.wrap("select customers by last name", sql, fmt.Errorf("no customer named %s in warehouse %d district %d", last, w, d))
	}
	return ids[(len(ids)-1)/2], nil
}

// orderLine is one item of a New-Order's input.
type orderLine struct {
	item, supplyW, quantity int
}

// newOrderInput is the terminal input of clause 2.4.1.
type newOrderInput struct {
	w, d, c int
	lines   []orderLine
}

func (t *terminal) newOrderInput() newOrderInput {
	r := t.r
	in := newOrderInput{w: t.w, d: r.uniform(1, Districts), c: r.nurand(1023, 1, t.scale.customers(), t.c.CID)}
	n := r.uniform(5, 15)
	rollback := r.uniform(1, 100) == 1
	for i := range n {
		l := orderLine{item: r.nurand(8191, 1, t.scale.items(), t.c.OLIID), supplyW: t.w, quantity: r.uniform(1, 10)}
		if i == n-1 && rollback {
			l.item = t.scale.items() + 1 // unused
		}
		if t.warehouses > 1 && r.uniform(1, 100) == 1 {
			l.supplyW = r.uniform(1, t.warehouses-1)
			if l.supplyW >= t.w {
				l.supplyW++
			}
		}
		in.lines = append(in.lines, l)
	}
	// Stock rows are locked in item order, which makes deadlocks between
	// New-Orders rare; the unused item stays last.
	slices.SortStableFunc(in.lines, func(a, b orderLine) int {
		if a.item != b.item {
			return a.item - b.item
		}
		return a.supplyW - b.supplyW
	})
	return in
}

var stockDistSQL [Districts + 1]string

func init() {
	for d := 1; d <= Districts; d++ {
		stockDistSQL[d] = fmt.Sprintf("SELECT s_quantity, s_data, s_dist_%02d FROM stock WHERE s_i_id = $1 AND s_w_id = $2 FOR UPDATE", d)
	}
}

// newOrder is the profile of clause 2.4.2.
func (t *terminal) newOrder(ctx context.Context, s step, in newOrderInput) error {
	var wTax, dTax, cDiscount float64
	var next int
	var cLast, cCredit string
	if err := s.row(ctx, "select warehouse", "SELECT w_tax FROM warehouse WHERE w_id = $1", []any{in.w}, &wTax); err != nil {
		return err
	}
	if err := s.row(ctx, "select district", "SELECT d_tax, d_next_o_id FROM district WHERE d_w_id = $1 AND d_id = $2 FOR UPDATE",
		[]any{in.w, in.d}, &dTax, &next); err != nil {
		return err
	}
	if _, err := s.exec(ctx, "update district", "UPDATE district SET d_next_o_id = d_next_o_id + 1 WHERE d_w_id = $1 AND d_id = $2", in.w, in.d); err != nil {
		return err
	}
	if err := s.row(ctx, "select customer", "SELECT c_discount, c_last, c_credit FROM customer WHERE c_w_id = $1 AND c_d_id = $2 AND c_id = $3",
		[]any{in.w, in.d, in.c}, &cDiscount, &cLast, &cCredit); err != nil {
		return err
	}
	allLocal := 1
	for _, l := range in.lines {
		if l.supplyW != in.w {
			allLocal = 0
		}
	}
	now := time.Now().UTC()
	if _, err := s.exec(ctx, "insert orders",
		"INSERT INTO orders (o_id, o_d_id, o_w_id, o_c_id, o_entry_d, o_carrier_id, o_ol_cnt, o_all_local) VALUES ($1, $2, $3, $4, $5, NULL, $6, $7)",
		next, in.d, in.w, in.c, now, len(in.lines), allLocal); err != nil {
		return err
	}
	if _, err := s.exec(ctx, "insert new_order", "INSERT INTO new_order (no_o_id, no_d_id, no_w_id) VALUES ($1, $2, $3)", next, in.d, in.w); err != nil {
		return err
	}
	var total int64
	for i, l := range in.lines {
		var price float64
		var iName, iData string
		err := s.row(ctx, "select item", "SELECT i_price, i_name, i_data FROM item WHERE i_id = $1", []any{l.item}, &price, &iName, &iData)
		if errors.Is(err, pgx.ErrNoRows) {
			return errRollback
		}
		if err != nil {
			return err
		}
		var quantity int
		var sData, distInfo string
		if err := s.row(ctx, "select stock", stockDistSQL[in.d], []any{l.item, l.supplyW}, &quantity, &sData, &distInfo); err != nil {
			return err
		}
		if quantity >= l.quantity+10 {
			quantity -= l.quantity
		} else {
			quantity += 91 - l.quantity
		}
		remote := 0
		if l.supplyW != in.w {
			remote = 1
		}
		if _, err := s.exec(ctx, "update stock",
			"UPDATE stock SET s_quantity = $1, s_ytd = s_ytd + $2, s_order_cnt = s_order_cnt + 1, s_remote_cnt = s_remote_cnt + $3 WHERE s_i_id = $4 AND s_w_id = $5",
			quantity, l.quantity, remote, l.item, l.supplyW); err != nil {
			return err
		}
		amount := int64(l.quantity) * cents(price)
		total += amount
		brandGeneric := "G"
		if hasOriginal(iData) && hasOriginal(sData) {
			brandGeneric = "B"
		}
		_ = brandGeneric // shown on the terminal's screen, which is not emulated
		if _, err := s.exec(ctx, "insert order_line",
			"INSERT INTO order_line (ol_o_id, ol_d_id, ol_w_id, ol_number, ol_i_id, ol_supply_w_id, ol_delivery_d, ol_quantity, ol_amount, ol_dist_info) VALUES ($1, $2, $3, $4, $5, $6, NULL, $7, $8, $9)",
			next, in.d, in.w, i+1, l.item, l.supplyW, l.quantity, money(amount), distInfo); err != nil {
			return err
		}
	}
	totalAmount := float64(total) / 100 * (1 - cDiscount) * (1 + wTax + dTax)
	_ = totalAmount // shown on the terminal's screen
	return nil
}

// paymentInput is the terminal input of clause 2.5.1.
type paymentInput struct {
	w, d, cw, cd int
	c            int    // 0: by last name
	last         string // C_LAST when c is 0
	amount       int64  // cents
}

func (t *terminal) paymentInput() paymentInput {
	r := t.r
	in := paymentInput{w: t.w, d: r.uniform(1, Districts), cw: t.w}
	in.cd = in.d
	if t.warehouses > 1 && r.uniform(1, 100) > 85 {
		in.cd = r.uniform(1, Districts)
		in.cw = r.uniform(1, t.warehouses-1)
		if in.cw >= t.w {
			in.cw++
		}
	}
	t.customer(&in.c, &in.last)
	in.amount = int64(r.uniform(100, 500000))
	return in
}

// customer picks a customer for Payment and Order-Status: 60% by last name
// (NURand(255, 0, 999)), 40% by number (NURand(1023, 1, 3000)).
func (t *terminal) customer(c *int, last *string) {
	if t.r.uniform(1, 100) <= 60 {
		*last = LastName(t.r.nurand(255, 0, t.scale.lastNames()-1, t.c.CLast))
		return
	}
	*c = t.r.nurand(1023, 1, t.scale.customers(), t.c.CID)
}

// payment is the profile of clause 2.5.2.
func (t *terminal) payment(ctx context.Context, s step, in paymentInput) error {
	amount := money(in.amount)
	if _, err := s.exec(ctx, "update warehouse", "UPDATE warehouse SET w_ytd = w_ytd + $1 WHERE w_id = $2", amount, in.w); err != nil {
		return err
	}
	var wName, dName string
	var addr [5]string
	if err := s.row(ctx, "select warehouse", "SELECT w_name, w_street_1, w_street_2, w_city, w_state, w_zip FROM warehouse WHERE w_id = $1",
		[]any{in.w}, &wName, &addr[0], &addr[1], &addr[2], &addr[3], &addr[4]); err != nil {
		return err
	}
	if _, err := s.exec(ctx, "update district", "UPDATE district SET d_ytd = d_ytd + $1 WHERE d_w_id = $2 AND d_id = $3", amount, in.w, in.d); err != nil {
		return err
	}
	if err := s.row(ctx, "select district", "SELECT d_name, d_street_1, d_street_2, d_city, d_state, d_zip FROM district WHERE d_w_id = $1 AND d_id = $2",
		[]any{in.w, in.d}, &dName, &addr[0], &addr[1], &addr[2], &addr[3], &addr[4]); err != nil {
		return err
	}
	c, err := s.customerID(ctx, in.cw, in.cd, in.c, in.last)
	if err != nil {
		return err
	}
	var first, middle, last, phone, credit string
	var since time.Time
	var creditLim, discount, balance float64
	if err := s.row(ctx, "select customer",
		"SELECT c_first, c_middle, c_last, c_street_1, c_street_2, c_city, c_state, c_zip, c_phone, c_since, c_credit, c_credit_lim, c_discount, c_balance FROM customer WHERE c_w_id = $1 AND c_d_id = $2 AND c_id = $3 FOR UPDATE",
		[]any{in.cw, in.cd, c}, &first, &middle, &last, &addr[0], &addr[1], &addr[2], &addr[3], &addr[4], &phone, &since, &credit, &creditLim, &discount, &balance); err != nil {
		return err
	}
	if credit == "BC" {
		var data string
		if err := s.row(ctx, "select customer data", "SELECT c_data FROM customer WHERE c_w_id = $1 AND c_d_id = $2 AND c_id = $3",
			[]any{in.cw, in.cd, c}, &data); err != nil {
			return err
		}
		data = fmt.Sprintf("%d %d %d %d %d %d.%02d|%s", c, in.cd, in.cw, in.d, in.w, in.amount/100, in.amount%100, data)
		if len(data) > 500 {
			data = data[:500]
		}
		if _, err := s.exec(ctx, "update customer (BC)",
			"UPDATE customer SET c_balance = c_balance - $1, c_ytd_payment = c_ytd_payment + $1, c_payment_cnt = c_payment_cnt + 1, c_data = $2 WHERE c_w_id = $3 AND c_d_id = $4 AND c_id = $5",
			amount, data, in.cw, in.cd, c); err != nil {
			return err
		}
	} else if _, err := s.exec(ctx, "update customer",
		"UPDATE customer SET c_balance = c_balance - $1, c_ytd_payment = c_ytd_payment + $1, c_payment_cnt = c_payment_cnt + 1 WHERE c_w_id = $2 AND c_d_id = $3 AND c_id = $4",
		amount, in.cw, in.cd, c); err != nil {
		return err
	}
	_, err = s.exec(ctx, "insert history",
		"INSERT INTO history (h_c_id, h_c_d_id, h_c_w_id, h_d_id, h_w_id, h_date, h_amount, h_data) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
		c, in.cd, in.cw, in.d, in.w, time.Now().UTC(), amount, wName+"    "+dName)
	return err
}

// orderStatusInput is the terminal input of clause 2.6.1.
type orderStatusInput struct {
	w, d, c int
	last    string
}

func (t *terminal) orderStatusInput() orderStatusInput {
	in := orderStatusInput{w: t.w, d: t.r.uniform(1, Districts)}
	t.customer(&in.c, &in.last)
	return in
}

// orderStatus is the profile of clause 2.6.2.
func (t *terminal) orderStatus(ctx context.Context, s step, in orderStatusInput) error {
	c, err := s.customerID(ctx, in.w, in.d, in.c, in.last)
	if err != nil {
		return err
	}
	var balance float64
	var first, middle, last string
	if err := s.row(ctx, "select customer", "SELECT c_balance, c_first, c_middle, c_last FROM customer WHERE c_w_id = $1 AND c_d_id = $2 AND c_id = $3",
		[]any{in.w, in.d, c}, &balance, &first, &middle, &last); err != nil {
		return err
	}
	var o int
	var entry time.Time
	var carrier pgtype.Int4
	if err := s.row(ctx, "select last order",
		"SELECT o_id, o_entry_d, o_carrier_id FROM orders WHERE o_w_id = $1 AND o_d_id = $2 AND o_c_id = $3 ORDER BY o_id DESC LIMIT 1",
		[]any{in.w, in.d, c}, &o, &entry, &carrier); err != nil {
		return err
	}
	return s.rows(ctx, "select order lines",
		"SELECT ol_i_id, ol_supply_w_id, ol_quantity, ol_amount, ol_delivery_d FROM order_line WHERE ol_w_id = $1 AND ol_d_id = $2 AND ol_o_id = $3",
		[]any{in.w, in.d, o}, values)
}

// delivery is the profile of clause 2.7.4, the ten districts in one
// transaction. It returns the number of districts without an undelivered order.
func (t *terminal) delivery(ctx context.Context, s step, carrier int) (skipped int, err error) {
	now := time.Now().UTC()
	for d := 1; d <= Districts; d++ {
		var o int
		for {
			err := s.row(ctx, "select oldest new_order",
				"SELECT no_o_id FROM new_order WHERE no_w_id = $1 AND no_d_id = $2 ORDER BY no_o_id LIMIT 1", []any{t.w, d}, &o)
			if errors.Is(err, pgx.ErrNoRows) {
				o = 0
				break
			}
			if err != nil {
				return 0, err
			}
			n, err := s.exec(ctx, "delete new_order", "DELETE FROM new_order WHERE no_w_id = $1 AND no_d_id = $2 AND no_o_id = $3", t.w, d, o)
			if err != nil {
				return 0, err
			}
			if n == 1 {
				break
			}
			// Another Delivery of this warehouse took that order first.
		}
		if o == 0 {
			skipped++
			continue
		}
		var c int
		if err := s.row(ctx, "select order", "SELECT o_c_id FROM orders WHERE o_w_id = $1 AND o_d_id = $2 AND o_id = $3", []any{t.w, d, o}, &c); err != nil {
			return 0, err
		}
		if _, err := s.exec(ctx, "update order", "UPDATE orders SET o_carrier_id = $1 WHERE o_w_id = $2 AND o_d_id = $3 AND o_id = $4", carrier, t.w, d, o); err != nil {
			return 0, err
		}
		if _, err := s.exec(ctx, "update order lines", "UPDATE order_line SET ol_delivery_d = $1 WHERE ol_w_id = $2 AND ol_d_id = $3 AND ol_o_id = $4", now, t.w, d, o); err != nil {
			return 0, err
		}
		var sum pgtype.Numeric
		if err := s.row(ctx, "sum order lines", "SELECT sum(ol_amount) FROM order_line WHERE ol_w_id = $1 AND ol_d_id = $2 AND ol_o_id = $3", []any{t.w, d, o}, &sum); err != nil {
			return 0, err
		}
		if _, err := s.exec(ctx, "update customer",
			"UPDATE customer SET c_balance = c_balance + $1, c_delivery_cnt = c_delivery_cnt + 1 WHERE c_w_id = $2 AND c_d_id = $3 AND c_id = $4",
			sum, t.w, d, c); err != nil {
			return 0, err
		}
	}
	return skipped, nil
}

// stockLevel is the profile of clause 2.8.2 for the terminal's district.
func (t *terminal) stockLevel(ctx context.Context, s step, threshold int) error {
	var next int
	if err := s.row(ctx, "select district", "SELECT d_next_o_id FROM district WHERE d_w_id = $1 AND d_id = $2", []any{t.w, t.d}, &next); err != nil {
		return err
	}
	var low int
	return s.row(ctx, "count low stock",
		"SELECT count(DISTINCT s_i_id) FROM order_line, stock WHERE ol_w_id = $1 AND ol_d_id = $2 AND ol_o_id < $3 AND ol_o_id >= $4 AND s_w_id = $1 AND s_i_id = ol_i_id AND s_quantity < $5",
		[]any{t.w, t.d, next, next - 20, threshold}, &low)
}

// retryable reports whether err is a serialization failure or a deadlock,
// after which the transaction is run again.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}
