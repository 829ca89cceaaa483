package tpcc

import (
	"context"
	"fmt"
	"math/big"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// LoadOptions say what Load populates.
type LoadOptions struct {
	DSN        string
	Warehouses int
	Scale      Scale
	// Distributed adds the DISTRIBUTE BY clauses; nil: when the server has
	// pgxc_node.
	Distributed *bool
	// Modulo distributes the tables BY MODULO (warehouse) rather than BY
	// HASH: warehouse w on the datanode w mod n, an even spread of any
	// number of warehouses (a few hash unevenly).
	Modulo bool
	// Workers is the number of warehouses loaded at once (default: all, at most 4).
	Workers int
	// Seed makes the population reproducible: the same seed loads the same rows.
	Seed uint64
}

// LoadStats describe a finished load.
type LoadStats struct {
	Distributed bool
	Rows        map[string]int64 // rows copied per table
	Duration    time.Duration
}

// Load drops and creates the schema and loads the initial population of
// clause 4.3.3.1 with COPY FROM STDIN: ITEM once, then every warehouse's
// rows, -Workers warehouses at a time, each on its own connection.
func Load(ctx context.Context, o LoadOptions) (*LoadStats, error) {
	if o.Warehouses < 1 {
		return nil, fmt.Errorf("load: %d warehouses", o.Warehouses)
	}
	start := time.Now()
	conn, err := pgx.Connect(ctx, o.DSN)
	if err != nil {
		return nil, fmt.Errorf("load: connect: %w", err)
	}
	defer conn.Close(context.Background())
	dist := false
	if o.Distributed != nil {
		dist = *o.Distributed
	} else if dist, err = IsXL(ctx, conn); err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	method := ""
	if dist {
		method = "HASH"
		if o.Modulo {
			method = "MODULO"
		}
	}
	if err := CreateSchema(ctx, conn, method); err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	workers := o.Workers
	if workers <= 0 {
		workers = min(o.Warehouses, 4)
	}
	counts := make([]map[string]int64, o.Warehouses+1)
	errs := make([]error, o.Warehouses+1)
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() {
		n, err := copyRows(lctx, conn, "item", itemRows(o.Scale, o.Seed))
		counts[0], errs[0] = map[string]int64{"item": n}, err
		if err != nil {
			cancel()
		}
	})
	sem := make(chan struct{}, workers)
	for w := 1; w <= o.Warehouses; w++ {
		wg.Go(func() {
			select {
			case sem <- struct{}{}:
			case <-lctx.Done():
				return
			}
			defer func() { <-sem }()
			c, err := pgx.Connect(lctx, o.DSN)
			if err == nil {
				counts[w], err = loadWarehouse(lctx, c, w, o.Scale, o.Seed)
				c.Close(context.Background())
			} else {
				err = fmt.Errorf("load warehouse %d: connect: %w", w, err)
			}
			if err != nil {
				errs[w] = err
				cancel()
			}
		})
	}
	wg.Wait()
	if err := firstCause(errs); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	for _, t := range tables {
		if _, err := conn.Exec(ctx, "ANALYZE "+t.name); err != nil {
			return nil, fmt.Errorf("load: analyze %s: %w", t.name, err)
		}
	}
	st := &LoadStats{Distributed: dist, Rows: map[string]int64{}, Duration: time.Since(start)}
	for _, m := range counts {
		for t, n := range m {
			st.Rows[t] += n
		}
	}
	return st, nil
}

// rowFunc yields the next row, or nil at the end.
type rowFunc func() []any

func copyRows(ctx context.Context, conn *pgx.Conn, name string, next rowFunc) (int64, error) {
	n, err := conn.CopyFrom(ctx, pgx.Identifier{name}, columns(name), pgx.CopyFromFunc(func() ([]any, error) {
		return next(), nil
	}))
	if err != nil {
		return n, fmt.Errorf("copy %s: %w", name, err)
	}
	return n, nil
}

// dec is the numeric v × 10^exp.
func dec(v int64, exp int32) pgtype.Numeric {
	return pgtype.Numeric{Int: big.NewInt(v), Exp: exp, Valid: true}
}

// money is an amount in cents as numeric(n,2).
func money(cents int64) pgtype.Numeric { return dec(cents, -2) }

// streams of the loader's random sources, one per table and warehouse, so
// that a table's rows do not depend on the order the tables are loaded in.
const (
	streamItem = iota
	streamWarehouse
	streamStock
	streamDistrict
	streamCustomer
	streamOrders
	streamLines
	streamCount
)

func itemRows(s Scale, seed uint64) rowFunc {
	r := newRNG(seed, streamItem)
	i := 0
	return func() []any {
		if i == s.items() {
			return nil
		}
		i++
		return []any{i, r.uniform(1, 10000), r.astring(14, 24), money(int64(r.uniform(100, 10000))), r.data()}
	}
}

// address is street 1, street 2, city, state and zip (clause 4.3.3.1).
func (r rng) address() []any {
	return []any{r.astring(10, 20), r.astring(10, 20), r.astring(10, 20), r.astring(2, 2), r.zip()}
}

// loadWarehouse copies one warehouse's rows of every table but ITEM.
func loadWarehouse(ctx context.Context, conn *pgx.Conn, w int, s Scale, seed uint64) (map[string]int64, error) {
	stream := func(k int) rng { return newRNG(seed, uint64(w*streamCount+k)) }
	now := time.Now().UTC().Truncate(time.Microsecond)
	customers := s.customers()
	counts := map[string]int64{}
	load := func(name string, next rowFunc) error {
		n, err := copyRows(ctx, conn, name, next)
		counts[name] += n
		if err != nil {
			return fmt.Errorf("load warehouse %d: %w", w, err)
		}
		return nil
	}

	r := stream(streamWarehouse)
	wrow := append(append([]any{w, r.astring(6, 10)}, r.address()...),
		dec(int64(r.uniform(0, 2000)), -4), money(int64(Districts*customers)*1000))
	if err := load("warehouse", rowsOf([][]any{wrow})); err != nil {
		return nil, err
	}

	r = stream(streamStock)
	i := 0
	if err := load("stock", func() []any {
		if i == s.items() {
			return nil
		}
		i++
		row := []any{i, w, dec(int64(r.uniform(10, 100)), 0)}
		for range Districts {
			row = append(row, r.astring(24, 24))
		}
		return append(row, dec(0, 0), dec(0, 0), dec(0, 0), r.data())
	}); err != nil {
		return nil, err
	}

	r = stream(streamDistrict)
	var districts [][]any
	for d := 1; d <= Districts; d++ {
		row := append(append([]any{d, w, r.astring(6, 10)}, r.address()...),
			dec(int64(r.uniform(0, 2000)), -4), money(int64(customers)*1000), customers+1)
		districts = append(districts, row)
	}
	if err := load("district", rowsOf(districts)); err != nil {
		return nil, err
	}

	r = stream(streamCustomer)
	d, c := 1, 0
	var hist [][]any
	if err := load("customer", func() []any {
		if c == customers {
			d, c = d+1, 0
		}
		if d > Districts {
			return nil
		}
		c++
		last := c - 1
		if c > s.lastNames() {
			last = r.nurand(255, 0, s.lastNames()-1, CLastLoad)
		}
		credit := "GC"
		if r.IntN(10) == 0 {
			credit = "BC"
		}
		row := append([]any{c, d, w, r.astring(8, 16), "OE", LastName(last)}, r.address()...)
		row = append(row, r.nstring(16, 16), now, credit, money(5000000), dec(int64(r.uniform(0, 5000)), -4),
			money(-1000), money(1000), dec(1, 0), dec(0, 0), r.astring(300, 500))
		hist = append(hist, []any{c, d, w, d, w, now, money(1000), r.astring(12, 24)})
		return row
	}); err != nil {
		return nil, err
	}
	if err := load("history", rowsOf(hist)); err != nil {
		return nil, err
	}

	r = stream(streamOrders)
	delivered := customers - s.newOrders()
	type order struct{ o, d, olCnt int }
	var orders []order
	var orderRows, newOrders [][]any
	for d := 1; d <= Districts; d++ {
		perm := r.Perm(customers)
		for o := 1; o <= customers; o++ {
			var carrier any
			if o <= delivered {
				carrier = r.uniform(1, 10)
			} else {
				newOrders = append(newOrders, []any{o, d, w})
			}
			olCnt := r.uniform(5, 15)
			orders = append(orders, order{o, d, olCnt})
			orderRows = append(orderRows, []any{o, d, w, perm[o-1] + 1, now, carrier, dec(int64(olCnt), 0), dec(1, 0)})
		}
	}
	if err := load("orders", rowsOf(orderRows)); err != nil {
		return nil, err
	}
	// Order lines are made as COPY reads them: 300,000 rows a warehouse.
	r = stream(streamLines)
	k, n := 0, 0
	if err := load("order_line", func() []any {
		if k < len(orders) && n == orders[k].olCnt {
			k, n = k+1, 0
		}
		if k == len(orders) {
			return nil
		}
		n++
		o := orders[k]
		var deliveryD any
		amount := int64(0)
		if o.o <= delivered {
			deliveryD = now
		} else {
			amount = int64(r.uniform(1, 999999))
		}
		return []any{o.o, o.d, w, n, r.uniform(1, s.items()), w, deliveryD, dec(5, 0), money(amount), r.astring(24, 24)}
	}); err != nil {
		return nil, err
	}
	if err := load("new_order", rowsOf(newOrders)); err != nil {
		return nil, err
	}
	return counts, nil
}

func rowsOf(rows [][]any) rowFunc {
	i := 0
	return func() []any {
		if i == len(rows) {
			return nil
		}
		i++
		return rows[i-1]
	}
}
