package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// AddDatanode adds datanode n to the running cluster, as pgxc_ctl's "add
// datanode master" did: it is made (initdb) and started; every datanode
// learns to trust its host; it gets the cluster's global objects from the
// first datanode (roles, then each database with its schemas, tables,
// functions and sequences, without rows: sequences' values stay at the
// gtm) and its distribution catalog; last every coordinator registers it
// (CREATE NODE, pgxc_pool_reload). New tables of the default node group
// use it at once; existing tables stay where they are until moved (xlctl
// rebalance, ALTER TABLE ... ADD NODE). DDL must not run while it is
// added: a table created during the copy would be missing on it.
func (c *Cluster) AddDatanode(ctx context.Context, n Node, standby *Node) error {
	if len(c.Config.Datanodes) == 0 {
		return errors.New("add datanode: the cluster has no datanode to copy the schema from")
	}
	src := c.Config.Datanodes[0]
	cfg := *c.Config
	cfg.Datanodes = append(append([]Node{}, c.Config.Datanodes...), n)
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("invalid config with datanode %s: %w", n.Name, err)
	}
	prev := c.Config
	c.Config = &cfg
	err := c.addDatanode(ctx, n, src)
	if err != nil {
		c.Config = prev
		return fmt.Errorf("add datanode %s: %w", n.Name, err)
	}
	if err := c.writeConfig(&cfg); err != nil {
		return err
	}
	if standby != nil {
		standby.Of = n.Name
		if standby.Name == "" {
			standby.Name = n.Name + "_standby"
		}
		return c.AddStandby(ctx, *standby)
	}
	return nil
}

func (c *Cluster) addDatanode(ctx context.Context, n, src Node) error {
	// Every datanode and standby trusts the new host (its schema copy
	// reads the first datanode; later moves are made through the
	// coordinators, which the new datanode trusts from its own init).
	for _, d := range append(append([]Node{}, c.Config.Datanodes...), c.Config.DatanodeStandbys...) {
		if d.Name == n.Name || d.Fenced {
			continue
		}
		if err := c.pgStep(ctx, d, "hba", ""); err != nil {
			return fmt.Errorf("trust the new host on %s: %w", d.Name, err)
		}
	}
	e, err := c.resolveFor([]Node{n})
	if err != nil {
		return err
	}
	if err := c.prepareLocal(e, n); err != nil {
		return err
	}
	if err := c.initNode(ctx, e, n, RoleDatanode); err != nil {
		return err
	}
	if err := c.startNode(ctx, e, n, RoleDatanode); err != nil {
		return err
	}
	c.say("Copy the global objects and schemas of %s to %s", src.Name, n.Name)
	if err := c.pgStep(ctx, n, "copyschema", src.Name); err != nil {
		return err
	}
	for _, co := range c.Config.Coordinators {
		if err := c.coordinatorStep(ctx, co, "register", ""); err != nil {
			return fmt.Errorf("register on coordinator %s: %w", co.Name, err)
		}
	}
	return nil
}

// writeHBA writes datanode or standby n's pg_hba.conf anew from the config
// and has it reloaded.
func (c *Cluster) writeHBA(ctx context.Context, e *env, conn *pgx.Conn, n Node) error {
	path := filepath.Join(c.DataDir(n.Name), "pg_hba.conf")
	if err := os.WriteFile(path, []byte(c.datanodeHBA()), 0o600); err != nil {
		return err
	}
	if err := e.pgUser.chown(path); err != nil {
		return err
	}
	_, err := conn.Exec(ctx, "SELECT pg_reload_conf()")
	return err
}

// copySchema copies to datanode n, on its host, the global objects and
// the schemas of datanode src.
func (c *Cluster) copySchema(ctx context.Context, e *env, n Node, srcName string) error {
	src, _, ok := c.Config.Node(srcName)
	if !ok {
		return fmt.Errorf("copy schema: no node %q", srcName)
	}
	srcHost := src.Host
	if c.Launch == nil && isLocalHost(src.Host) {
		srcHost = e.dnSocket
	}
	account := pgAccount(e)
	from := []string{"-h", srcHost, "-p", fmt.Sprint(src.Port), "-U", account, "--no-password"}
	to := []string{"-h", c.connHost(n, RoleDatanode), "-p", fmt.Sprint(n.Port), "-U", account, "--no-password", "-X", "-q"}
	// pipe runs a dump into psql on the new datanode.
	pipe := func(strict bool, dump []string, db string) error {
		d := c.pgCmd(ctx, e, n, false, dump[0], dump[1:]...)
		var dumpErr bytes.Buffer
		d.Stderr = &dumpErr
		out, err := d.StdoutPipe()
		if err != nil {
			return err
		}
		args := append(slices.Clone(to), "-d", db, "-f", "-")
		if strict {
			args = append(args, "-v", "ON_ERROR_STOP=1")
		}
		p := c.pgCmd(ctx, e, n, false, "psql", args...)
		p.Stdin = out
		var psqlOut bytes.Buffer
		p.Stdout, p.Stderr = &psqlOut, &psqlOut
		if err := d.Start(); err != nil {
			return err
		}
		perr := p.Run()
		derr := d.Wait()
		if derr != nil {
			return fmt.Errorf("%s: %w\n%s", strings.Join(d.Args, " "), derr, strings.TrimSpace(dumpErr.String()))
		}
		if perr != nil {
			return fmt.Errorf("psql on %s: %w\n%s", n.Name, perr, strings.TrimSpace(psqlOut.String()))
		}
		return nil
	}
	// Roles (the account itself exists already: psql goes on past that).
	if err := pipe(false, append([]string{"pg_dumpall", "--globals-only"}, from...), "postgres"); err != nil {
		return err
	}
	srcConn, err := c.connectAs(ctx, srcHost, src.Port, account, "postgres")
	if err != nil {
		return err
	}
	defer srcConn.Close(context.Background())
	rows, err := srcConn.Query(ctx, "SELECT datname FROM pg_database WHERE datallowconn AND datname NOT IN ('template0', 'template1') ORDER BY datname")
	if err != nil {
		return err
	}
	dbs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	var missing []string
	newConn, err := c.connectAs(ctx, c.connHost(n, RoleDatanode), n.Port, account, "postgres")
	if err != nil {
		return err
	}
	rows, err = newConn.Query(ctx, "SELECT rolname FROM pg_roles")
	have, _ := pgx.CollectRows(rows, pgx.RowTo[string])
	newConn.Close(context.Background())
	if err != nil {
		return err
	}
	rows, err = srcConn.Query(ctx, "SELECT rolname FROM pg_roles")
	if err != nil {
		return err
	}
	want, _ := pgx.CollectRows(rows, pgx.RowTo[string])
	for _, r := range want {
		if !slices.Contains(have, r) {
			missing = append(missing, r)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("copy roles to %s: %s missing after pg_dumpall --globals-only", n.Name, strings.Join(missing, ", "))
	}
	for _, db := range dbs {
		c.say("  database %s", db)
		dump := append([]string{"pg_dump", "--schema-only", "-d", db}, from...)
		target := db
		if db != "postgres" {
			dump = append(dump, "--create")
			target = "postgres"
		}
		if err := pipe(true, dump, target); err != nil {
			return err
		}
		if err := c.copyDistributionCatalog(ctx, srcHost, src.Port, c.connHost(n, RoleDatanode), n.Port, account, db); err != nil {
			return fmt.Errorf("copy pgxc_class of %s to %s: %w", db, n.Name, err)
		}
	}
	return nil
}

// copyDistributionCatalog copies database db's pgxc_class rows from one
// datanode to another, each row keyed by its table's name (its oid differs
// from node to node).
func (c *Cluster) copyDistributionCatalog(ctx context.Context, srcHost string, srcPort int, dstHost string, dstPort int, user, db string) error {
	from, err := c.connectAs(ctx, srcHost, srcPort, user, db)
	if err != nil {
		return err
	}
	defer from.Close(context.Background())
	var ready bool
	if err := from.QueryRow(ctx, "SELECT to_regclass('pgxc.pgxc_class') IS NOT NULL").Scan(&ready); err != nil || !ready {
		return err
	}
	rows, err := from.Query(ctx, `SELECT format('%I.%I', n.nspname, c.relname), to_jsonb(p) - 'pcrelid'
		FROM pgxc.pgxc_class p JOIN pg_class c ON c.oid = p.pcrelid JOIN pg_namespace n ON n.oid = c.relnamespace`)
	if err != nil {
		return err
	}
	type entry struct{ name, row string }
	var entries []entry
	for rows.Next() {
		var e entry
		if err := rows.Scan(&e.name, &e.row); err != nil {
			return err
		}
		entries = append(entries, e)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	to, err := c.connectAs(ctx, dstHost, dstPort, user, db)
	if err != nil {
		return err
	}
	defer to.Close(context.Background())
	for _, e := range entries {
		if _, err := to.Exec(ctx, `INSERT INTO pgxc.pgxc_class SELECT * FROM jsonb_populate_record(NULL::pgxc.pgxc_class, $2::jsonb || jsonb_build_object('pcrelid', $1::regclass::oid))`, e.name, e.row); err != nil {
			return fmt.Errorf("%s: %w", e.name, err)
		}
	}
	return nil
}

// connectAs connects to a PostgreSQL server as user.
func (c *Cluster) connectAs(ctx context.Context, host string, port int, user, db string) (*pgx.Conn, error) {
	cc, err := pgx.ParseConfig(fmt.Sprintf("host=%s port=%d user=%s dbname=%s sslmode=disable connect_timeout=10", host, port, user, db))
	if err != nil {
		return nil, err
	}
	cc.RuntimeParams["application_name"] = "xlctl"
	return pgx.ConnectConfig(ctx, cc)
}

// RemoveDatanode drains datanode name and takes it out of the cluster:
// every table that lives on it loses it (ALTER TABLE ... DELETE NODE, which
// moves a hash table's buckets online and rewrites the others), every
// coordinator drops it (DROP NODE, pgxc_pool_reload), it and its standbys
// stop, and the config forgets them. Their data directories stay.
func (c *Cluster) RemoveDatanode(ctx context.Context, name string, progress Progress, rate int) error {
	n, role, ok := c.Config.Node(name)
	if !ok || role != RoleDatanode {
		return fmt.Errorf("remove datanode %s: no such datanode in the config", name)
	}
	if len(c.Config.Datanodes) == 1 {
		return fmt.Errorf("remove datanode %s: it is the only datanode", name)
	}
	if err := c.Rebalance(ctx, RebalanceOptions{Drain: name, Progress: progress, Rate: rate}); err != nil {
		return fmt.Errorf("drain datanode %s: %w", name, err)
	}
	cfg := *c.Config
	cfg.Datanodes = slices.DeleteFunc(slices.Clone(c.Config.Datanodes), func(d Node) bool { return d.Name == name })
	if n.Primary {
		cfg.Datanodes[0].Primary = true
	}
	if n.Preferred {
		cfg.Datanodes[0].Preferred = true
	}
	var standbys []Node
	cfg.DatanodeStandbys = slices.DeleteFunc(slices.Clone(c.Config.DatanodeStandbys), func(d Node) bool {
		if d.Of == name {
			standbys = append(standbys, d)
			return true
		}
		return false
	})
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("invalid config without datanode %s: %w", name, err)
	}
	// How to stop them is learnt while the config still has them.
	stop := append(standbys, n)
	envs := make([]*env, len(stop))
	for i, d := range stop {
		e, err := c.resolveFor([]Node{d})
		if err != nil {
			return err
		}
		envs[i] = e
	}
	c.Config = &cfg
	for _, co := range cfg.Coordinators {
		if err := c.coordinatorStep(ctx, co, "unregister", name); err != nil {
			return fmt.Errorf("drop node %s on coordinator %s: %w", name, co.Name, err)
		}
		if err := c.coordinatorStep(ctx, co, "register", ""); err != nil {
			return fmt.Errorf("register on coordinator %s: %w", co.Name, err)
		}
	}
	if err := c.writeConfig(&cfg); err != nil {
		return err
	}
	// The coordinators no longer use it; transactions begun before may
	// still read from it (the catalog, on a preferred datanode): they end
	// first, so that stopping it breaks no client's statement.
	if !c.remote(n) {
		c.waitQuiet(ctx, envs[len(envs)-1], n)
	}
	for i, d := range stop {
		role := RoleDatanode
		if d.Of != "" {
			role = RoleDatanodeStandby
		}
		e := envs[i]
		c.say("Stop %s (its data directory stays: %s)", d.Name, c.DataDir(d.Name))
		if err := c.stopNode(ctx, e, d, role, "fast"); err != nil {
			return fmt.Errorf("stop %s: %w", d.Name, err)
		}
	}
	return nil
}

// unregisterOn drops datanode name on coordinator co.
func (c *Cluster) unregisterOn(ctx context.Context, co Node, name string) error {
	conn, err := connectSimple(ctx, c.connHost(co, RoleCoordinator), co.Port, c.ClientUser(), "postgres")
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	for _, sql := range []string{"DROP NODE IF EXISTS " + sqlIdent(name) + ";", PoolReloadSQL} {
		fmt.Fprintln(c.out(), sql)
		if err := runAndPrint(ctx, conn, sql, c.out()); err != nil {
			return err
		}
	}
	return nil
}

// waitQuiet waits, up to half a minute, until datanode n runs no client
// statement or transaction but idle pooled connections.
func (c *Cluster) waitQuiet(ctx context.Context, e *env, n Node) {
	conn, err := c.connectPG(ctx, e, n)
	if err != nil {
		return
	}
	defer conn.Close(context.Background())
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var busy int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'
			AND pid <> pg_backend_pid() AND state <> 'idle'`).Scan(&busy); err != nil || busy == 0 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}
