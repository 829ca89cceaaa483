// Command tpcc runs the TPC-C client of package tpcc against PostgreSQL or
// xlgo:
//
//	go run ./bench/tpcc/cmd/tpcc -dsn 'host=127.0.0.1 port=20004 dbname=postgres' \
//	    -dsn 'host=127.0.0.1 port=20005 dbname=postgres' -warehouses 1 -load -duration 30s -check
//
// -load drops and creates the nine tables and loads the initial population
// (DISTRIBUTE BY clauses when the server has pgxc_node); then terminals run
// the transaction mix for -duration, spread round-robin over the -dsn
// servers; -check verifies the consistency conditions before the run (after
// the load with -load) and after it. It prints tpmC, each transaction's count and latencies, and
// one "tpcc-result {json}" line for scripts. It exits with status 1 on the
// first error or violated condition.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xlgo/xlgo/bench/tpcc"
)

func main() {
	var dsns []string
	addDSN := func(s string) error { dsns = append(dsns, s); return nil }
	flag.Func("dsn", "server connection string (repeat it, or use -dsn2, for several coordinators)", addDSN)
	flag.Func("dsn2", "another server connection string", addDSN)
	warehouses := flag.Int("warehouses", 1, "warehouses to load (a run reads the count from the database)")
	terminals := flag.Int("terminals", 0, "terminals (default: 10 per warehouse, as the specification has)")
	duration := flag.Duration("duration", time.Minute, "measurement interval (0: no run)")
	load := flag.Bool("load", false, "drop, create and load the tables first")
	check := flag.Bool("check", false, "check the consistency conditions before the run (after the load) and after it")
	workers := flag.Int("load-workers", 0, "warehouses loaded at once (default: all, at most 4)")
	distribute := flag.String("distribute", "auto", "DISTRIBUTE BY clauses in the schema: auto (when the server has pgxc_node), yes, no")
	modulo := flag.Bool("modulo", false, "DISTRIBUTE BY MODULO (warehouse) rather than HASH: an even spread of a few warehouses")
	seed := flag.Uint64("seed", uint64(time.Now().UnixNano()), "random seed of the load and of the terminals")
	retries := flag.Int("max-retries", 10, "runs of one transaction after serialization failures or deadlocks before the run stops")
	items := flag.Int("small-items", 0, "load fewer items than the specification's 100,000 (not TPC-C: for quick trials)")
	customers := flag.Int("small-customers", 0, "load fewer customers per district than the specification's 3,000 (not TPC-C: for quick trials)")
	flag.Parse()
	if len(dsns) == 0 {
		fmt.Fprintln(os.Stderr, "tpcc: -dsn is required")
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	o := options{dsns: dsns, warehouses: *warehouses, terminals: *terminals, duration: *duration, load: *load, check: *check,
		workers: *workers, distribute: *distribute, modulo: *modulo, seed: *seed, retries: *retries, scale: tpcc.Scale{Items: *items, CustomersPerDistrict: *customers}}
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "tpcc:", err)
		os.Exit(1)
	}
}

type options struct {
	dsns                           []string
	warehouses, terminals, workers int
	retries                        int
	duration                       time.Duration
	load, check, modulo            bool
	distribute                     string
	seed                           uint64
	scale                          tpcc.Scale
}

func run(ctx context.Context, o options) error {
	conn, err := pgx.Connect(ctx, o.dsns[0])
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	isXL, err := tpcc.IsXL(ctx, conn)
	if err != nil {
		return err
	}
	system := "postgresql"
	if isXL {
		system = "xlgo"
	}
	if o.load {
		lo := tpcc.LoadOptions{DSN: o.dsns[0], Warehouses: o.warehouses, Scale: o.scale, Workers: o.workers, Seed: o.seed, Modulo: o.modulo}
		switch o.distribute {
		case "yes", "no":
			d := o.distribute == "yes"
			lo.Distributed = &d
		case "auto":
		default:
			return fmt.Errorf("-distribute %q: want auto, yes or no", o.distribute)
		}
		st, err := tpcc.Load(ctx, lo)
		if err != nil {
			return err
		}
		layout := "no DISTRIBUTE BY"
		if st.Distributed {
			layout = "DISTRIBUTE BY HASH (warehouse), item DISTRIBUTE BY REPLICATION"
			if o.modulo {
				layout = "DISTRIBUTE BY MODULO (warehouse), item DISTRIBUTE BY REPLICATION"
			}
		}
		fmt.Printf("loaded %d warehouses into %s (%s) in %.1fs: %d order lines, %d stock rows\n",
			o.warehouses, system, layout, st.Duration.Seconds(), st.Rows["order_line"], st.Rows["stock"])
	}
	if o.check {
		when := "before the run"
		if o.load {
			when = "after the load"
		}
		if err := check(ctx, conn, when); err != nil {
			return err
		}
	}
	if o.duration <= 0 {
		return nil
	}
	if o.terminals == 0 {
		var w int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM warehouse").Scan(&w); err != nil {
			return err
		}
		o.terminals = 10 * max(w, 1)
	}
	fmt.Printf("running %d terminals on %s for %v (%s)\n", o.terminals, system, o.duration, strings.Join(o.dsns, "; "))
	res, err := tpcc.Run(ctx, tpcc.RunOptions{DSNs: o.dsns, Terminals: o.terminals, Duration: o.duration, MaxRetries: o.retries, Seed: o.seed})
	if err != nil {
		return err
	}
	res.Print(os.Stdout)
	fmt.Println(res.Summary(system))
	if o.check {
		return check(ctx, conn, "after the run")
	}
	return nil
}

func check(ctx context.Context, conn *pgx.Conn, when string) error {
	start := time.Now()
	if err := tpcc.Check(ctx, conn); err != nil {
		return fmt.Errorf("%s: %w", when, err)
	}
	fmt.Printf("consistency conditions hold %s (%d conditions, %.1fs)\n", when, len(tpcc.Conditions), time.Since(start).Seconds())
	return nil
}
