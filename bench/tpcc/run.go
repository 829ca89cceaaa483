package tpcc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// RunOptions say what Run measures.
type RunOptions struct {
	// DSNs are the servers; terminal i connects to DSNs[i % len(DSNs)], as
	// clients behind a load balancer spread over coordinators.
	DSNs      []string
	Terminals int
	Duration  time.Duration
	// Warehouses and Scale describe the loaded population; zero: read from
	// the database (max(w_id), max(i_id), max(c_id) of district 1).
	Warehouses int
	Scale      Scale
	// MaxRetries bounds how often one transaction is run again after a
	// serialization failure or a deadlock (default 10).
	MaxRetries int
	Seed       uint64
	// ConnConfig, when set, adjusts each terminal's connection settings
	// (a tracer, the query exec mode ...).
	ConnConfig func(*pgx.ConnConfig)
}

// TxnStats are the figures of one transaction type.
type TxnStats struct {
	Name      string        `json:"name"`
	Count     int           `json:"count"` // committed, and rolled back on purpose
	Retries   int           `json:"retries"`
	Rollbacks int           `json:"rollbacks"` // New-Orders rolled back by their unused item
	Mean      time.Duration `json:"mean_ns"`
	P50       time.Duration `json:"p50_ns"`
	P90       time.Duration `json:"p90_ns"`
	P99       time.Duration `json:"p99_ns"`
	Max       time.Duration `json:"max_ns"`
}

// Result is what a run measured.
type Result struct {
	Warehouses int           `json:"warehouses"`
	Terminals  int           `json:"terminals"`
	Elapsed    time.Duration `json:"elapsed_ns"`
	// TpmC is New-Order transactions per minute, the rolled back ones
	// included; Tpm counts all five.
	TpmC      float64     `json:"tpmC"`
	Tpm       float64     `json:"tpm"`
	Txns      [5]TxnStats `json:"txns"`
	Committed int         `json:"new_orders_committed"`
	Payments  int         `json:"payments_committed"`
	Delivered int         `json:"orders_delivered"`
	Skipped   int         `json:"delivery_districts_skipped"`
	Constants Constants   `json:"constants"`
	latencies [kinds][]time.Duration
}

// terminal is one emulated terminal: a connection, a home warehouse, and a
// district for Stock-Level (clause 2.8.1.1).
type terminal struct {
	conn       *pgx.Conn
	w, d       int
	warehouses int
	scale      Scale
	c          Constants
	r          rng
	maxRetries int
	res        Result
}

// deck is the transaction mix: 45 New-Order, 43 Payment and 4 each of the
// others in 100 cards, shuffled and dealt in turn (clause 5.2.4.2).
func deck() []Kind {
	d := make([]Kind, 0, 100)
	for k, n := range map[Kind]int{NewOrder: 45, Payment: 43, OrderStatus: 4, Delivery: 4, StockLevel: 4} {
		for range n {
			d = append(d, k)
		}
	}
	slices.Sort(d)
	return d
}

// Run drives Terminals terminals for Duration, each running transactions
// back to back (no keying or think times) in the deck's mix. Terminal i's
// home warehouse is i mod W + 1 and its district (i / W) mod 10 + 1. The first
// error other than a serialization failure or deadlock, or one of those more
// than MaxRetries times in a row, stops every terminal and is returned.
func Run(ctx context.Context, o RunOptions) (*Result, error) {
	if len(o.DSNs) == 0 || o.Terminals < 1 {
		return nil, fmt.Errorf("run: need a DSN and a terminal")
	}
	if o.MaxRetries <= 0 {
		o.MaxRetries = 10
	}
	if err := describe(ctx, o.DSNs[0], &o); err != nil {
		return nil, err
	}
	c := RunConstants(newRNG(o.Seed, 1<<32).Rand)
	terms := make([]*terminal, o.Terminals)
	defer func() {
		for _, t := range terms {
			if t != nil {
				t.conn.Close(context.Background())
			}
		}
	}()
	for i := range terms {
		cfg, err := pgx.ParseConfig(o.DSNs[i%len(o.DSNs)])
		if err != nil {
			return nil, fmt.Errorf("run: %w", err)
		}
		if o.ConnConfig != nil {
			o.ConnConfig(cfg)
		}
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			return nil, fmt.Errorf("run: terminal %d: connect: %w", i+1, err)
		}
		terms[i] = &terminal{conn: conn, w: i%o.Warehouses + 1, d: (i/o.Warehouses)%Districts + 1, warehouses: o.Warehouses,
			scale: o.Scale, c: c, r: newRNG(o.Seed, 1<<32+uint64(i)+1), maxRetries: o.MaxRetries}
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make([]error, len(terms))
	start := time.Now()
	end := start.Add(o.Duration)
	var wg sync.WaitGroup
	for i, t := range terms {
		wg.Go(func() {
			if errs[i] = t.run(rctx, end); errs[i] != nil {
				cancel()
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := firstCause(errs); err != nil {
		return nil, err
	}
	res := &Result{Warehouses: o.Warehouses, Terminals: o.Terminals, Elapsed: elapsed, Constants: c}
	for _, t := range terms {
		res.add(&t.res)
	}
	res.finish()
	return res, nil
}

// firstCause is the first error of errs that is not a cancellation (which
// the first error causes in the other goroutines), else the first error.
func firstCause(errs []error) error {
	var first error
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
		if first == nil {
			first = err
		}
	}
	return first
}

// describe reads the number of warehouses and the scale from the database
// where the options leave them zero.
func describe(ctx context.Context, dsn string, o *RunOptions) error {
	if o.Warehouses > 0 && o.Scale.Items > 0 && o.Scale.CustomersPerDistrict > 0 {
		return nil
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("run: connect: %w", err)
	}
	defer conn.Close(context.Background())
	var w, items, customers *int
	err = conn.QueryRow(ctx, "SELECT (SELECT max(w_id) FROM warehouse), (SELECT max(i_id) FROM item), (SELECT max(c_id) FROM customer WHERE c_w_id = 1 AND c_d_id = 1)").
		Scan(&w, &items, &customers)
	if err != nil {
		return fmt.Errorf("run: read the population's size: %w", err)
	}
	if w == nil || items == nil || customers == nil {
		return fmt.Errorf("run: the database is not loaded (run with -load first)")
	}
	if o.Warehouses == 0 {
		o.Warehouses = *w
	}
	if o.Scale.Items == 0 {
		o.Scale.Items = *items
	}
	if o.Scale.CustomersPerDistrict == 0 {
		o.Scale.CustomersPerDistrict = *customers
	}
	return nil
}

// run deals transactions until end.
func (t *terminal) run(ctx context.Context, end time.Time) error {
	cards := deck()
	for {
		t.r.Shuffle(len(cards), func(i, j int) { cards[i], cards[j] = cards[j], cards[i] })
		for _, k := range cards {
			if time.Now().After(end) {
				return nil
			}
			if err := t.one(ctx, k); err != nil {
				return err
			}
		}
	}
}

// one runs a transaction of kind k: its input is drawn once, and the
// transaction is run again with the same input after a serialization
// failure or a deadlock.
func (t *terminal) one(ctx context.Context, k Kind) error {
	var body func(context.Context, step) error
	var skipped int
	switch k {
	case NewOrder:
		in := t.newOrderInput()
		body = func(ctx context.Context, s step) error { return t.newOrder(ctx, s, in) }
	case Payment:
		in := t.paymentInput()
		body = func(ctx context.Context, s step) error { return t.payment(ctx, s, in) }
	case OrderStatus:
		in := t.orderStatusInput()
		body = func(ctx context.Context, s step) error { return t.orderStatus(ctx, s, in) }
	case Delivery:
		carrier := t.r.uniform(1, 10)
		body = func(ctx context.Context, s step) (err error) {
			skipped, err = t.delivery(ctx, s, carrier)
			return err
		}
	case StockLevel:
		threshold := t.r.uniform(10, 20)
		body = func(ctx context.Context, s step) error { return t.stockLevel(ctx, s, threshold) }
	}
	st := &t.res.Txns[k]
	start := time.Now()
	for attempt := 0; ; attempt++ {
		err := t.attempt(ctx, k, body)
		if errors.Is(err, errRollback) {
			st.Rollbacks++
			break
		}
		if err != nil && retryable(err) && attempt < t.maxRetries {
			st.Retries++
			continue
		}
		if err != nil {
			if retryable(err) {
				return fmt.Errorf("%s failed %d times in a row: %w", k, attempt+1, err)
			}
			return err
		}
		switch k {
		case NewOrder:
			t.res.Committed++
		case Payment:
			t.res.Payments++
		case Delivery:
			t.res.Skipped += skipped
			t.res.Delivered += Districts - skipped
		}
		break
	}
	st.Count++
	t.res.latencies[k] = append(t.res.latencies[k], time.Since(start))
	return nil
}

// attempt runs body in one transaction: BEGIN, the statements, COMMIT; or
// ROLLBACK after an error.
func (t *terminal) attempt(ctx context.Context, k Kind, body func(context.Context, step) error) error {
	tx, err := t.conn.Begin(ctx)
	if err != nil {
		return &StmtError{Txn: k, Stmt: "begin", SQL: "BEGIN", Err: err}
	}
	if err := body(ctx, step{kind: k, tx: tx}); err != nil {
		if rerr := tx.Rollback(ctx); rerr != nil {
			// Not retried: the connection is likely gone.
			return &StmtError{Txn: k, Stmt: "rollback", SQL: "ROLLBACK", Err: fmt.Errorf("%w (after: %v)", rerr, err)}
		}
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return &StmtError{Txn: k, Stmt: "commit", SQL: "COMMIT", Err: err}
	}
	return nil
}

func (r *Result) add(o *Result) {
	for k := range kinds {
		r.Txns[k].Count += o.Txns[k].Count
		r.Txns[k].Retries += o.Txns[k].Retries
		r.Txns[k].Rollbacks += o.Txns[k].Rollbacks
		r.latencies[k] = append(r.latencies[k], o.latencies[k]...)
	}
	r.Committed += o.Committed
	r.Payments += o.Payments
	r.Delivered += o.Delivered
	r.Skipped += o.Skipped
}

func (r *Result) finish() {
	total := 0
	for k := range kinds {
		st := &r.Txns[k]
		st.Name = k.String()
		total += st.Count
		l := r.latencies[k]
		if len(l) == 0 {
			continue
		}
		slices.Sort(l)
		var sum time.Duration
		for _, d := range l {
			sum += d
		}
		st.Mean = sum / time.Duration(len(l))
		pct := func(p int) time.Duration { return l[min(len(l)-1, (len(l)*p+99)/100-1)] }
		st.P50, st.P90, st.P99, st.Max = pct(50), pct(90), pct(99), l[len(l)-1]
	}
	minutes := r.Elapsed.Minutes()
	r.TpmC = float64(r.Txns[NewOrder].Count) / minutes
	r.Tpm = float64(total) / minutes
}

// Retries is the number of transactions run again, over all types.
func (r *Result) Retries() int {
	n := 0
	for _, st := range r.Txns {
		n += st.Retries
	}
	return n
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Print writes the report: tpmC, the mix, and each type's latencies.
func (r *Result) Print(w io.Writer) {
	fmt.Fprintf(w, "%d warehouses, %d terminals, %.1fs\n", r.Warehouses, r.Terminals, r.Elapsed.Seconds())
	fmt.Fprintf(w, "tpmC %.0f (New-Orders per minute), total %.0f transactions per minute\n", r.TpmC, r.Tpm)
	total := 0
	for _, st := range r.Txns {
		total += st.Count
	}
	fmt.Fprintf(w, "%-13s %7s %6s %9s %8s %8s %8s %8s %8s %9s\n", "transaction", "count", "mix %", "mean ms", "p50 ms", "p90 ms", "p99 ms", "max ms", "retries", "rollbacks")
	for _, st := range r.Txns {
		mix := 0.0
		if total > 0 {
			mix = 100 * float64(st.Count) / float64(total)
		}
		fmt.Fprintf(w, "%-13s %7d %6.1f %9.2f %8.2f %8.2f %8.2f %8.2f %8d %9d\n", st.Name, st.Count, mix,
			ms(st.Mean), ms(st.P50), ms(st.P90), ms(st.P99), ms(st.Max), st.Retries, st.Rollbacks)
	}
	fmt.Fprintf(w, "orders delivered %d, delivery districts without an order %d\n", r.Delivered, r.Skipped)
}

// Summary is the result as one line for a harness to parse: "tpcc-result "
// and a JSON object.
func (r *Result) Summary(system string) string {
	b, _ := json.Marshal(struct {
		System string `json:"system"`
		*Result
		Retries int `json:"retries"`
	}{system, r, r.Retries()})
	return "tpcc-result " + string(b)
}
