package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/xlgo/xlgo/gtmclient"
	"github.com/xlgo/xlgo/internal/pgha"
)

// Datanode standbys (the guide's datanode slaves). A standby is a
// pg_basebackup of its datanode, started with standby.signal and streaming
// from it under its own name (primary_conninfo's application_name); the
// datanode then lists that name in synchronous_standby_names, so with
// synchronous_commit = on (PostgreSQL's default) a commit, a PREPARE
// TRANSACTION and a COMMIT PREPARED are acknowledged only once they are on
// both hosts: a prepared transaction of a lost datanode is on its standby.
// FailoverDatanode promotes the standby and repoints every coordinator.

func isPostgres(role string) bool { return role == RoleDatanode || role == RoleDatanodeStandby }

// streamWait bounds the wait for a new standby to stream from its datanode.
const streamWait = 60 * time.Second

// pgAccount is the PostgreSQL superuser the datanodes were made with: the
// account PostgreSQL runs as.
func pgAccount(e *env) string {
	if e.pgUser != nil {
		return e.pgUser.Name
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "postgres"
}

// initStandby makes standby n's data directory on this host: a base backup
// of its datanode, its own port and sockets, and standby.signal.
func (c *Cluster) initStandby(ctx context.Context, e *env, n Node) error {
	master, _, ok := c.Config.Node(n.Of)
	if !ok {
		return fmt.Errorf("datanode standby %s: no datanode %q", n.Name, n.Of)
	}
	c.say("Base backup of datanode %s for standby %s", master.Name, n.Name)
	dir := c.DataDir(n.Name)
	if nonEmptyDir(dir) {
		return fmt.Errorf("%s is not empty; remove it (xlctl clean) or give the standby another dir", dir)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := e.pgUser.chown(dir); err != nil {
		return err
	}
	conninfo := c.primaryConninfo(e, master, n)
	if err := runOut(c.pgCmd(ctx, e, n, false, "pg_basebackup", "-d", conninfo, "-D", dir, "-X", "stream", "-c", "fast", "--no-password")); err != nil {
		return err
	}
	return c.standbyFiles(e, n, conninfo)
}

// primaryConninfo is how standby n reaches its datanode, under its name.
func (c *Cluster) primaryConninfo(e *env, master, n Node) string {
	return fmt.Sprintf("host=%s port=%d user=%s application_name=%s connect_timeout=10", master.Host, master.Port, pgAccount(e), n.Name)
}

// standbyFiles makes the data directory of n, a copy of its datanode's, a
// standby's: its own port and sockets (the last lines of postgresql.conf
// win), primary_conninfo, standby.signal; and its log.
func (c *Cluster) standbyFiles(e *env, n Node, conninfo string) error {
	dir := c.DataDir(n.Name)
	conf := c.datanodeConf(n, e.dnSocket) + fmt.Sprintf("primary_conninfo = %s\nhot_standby = on\n", sqlString(conninfo))
	if err := appendFile(filepath.Join(dir, "postgresql.conf"), conf); err != nil {
		return err
	}
	signal := filepath.Join(dir, "standby.signal")
	if err := os.WriteFile(signal, nil, 0o600); err != nil {
		return err
	}
	if err := e.pgUser.chown(signal); err != nil {
		return err
	}
	return c.touchLog(e, n)
}

// rewind makes the fenced former datanode n, here, a standby of the datanode
// that replaced it: stopped, then pg_rewind from that datanode, or, when
// pg_rewind cannot (no wal_log_hints, WAL gone), a new base backup.
func (c *Cluster) rewind(ctx context.Context, e *env, n Node) error {
	master, _, _ := c.Config.Node(n.Of)
	if _, ok := c.datanodePid(n); ok {
		if err := c.stopDatanode(ctx, e, n, "immediate"); err != nil {
			return err
		}
	}
	dir := c.DataDir(n.Name)
	if mconn, err := c.connectPG(ctx, e, master); err == nil { // its timeline in its control file (see promote)
		_, err = mconn.Exec(ctx, "CHECKPOINT")
		mconn.Close(context.Background())
		if err != nil {
			return fmt.Errorf("checkpoint on datanode %s: %w", master.Name, err)
		}
	}
	c.say("pg_rewind %s from datanode %s (%s)", dir, master.Name, master.Addr())
	source := fmt.Sprintf("host=%s port=%d user=%s dbname=postgres connect_timeout=10", master.Host, master.Port, pgAccount(e))
	err := runOut(c.pgCmd(ctx, e, n, false, "pg_rewind", "--target-pgdata", dir, "--source-server", source))
	if err == nil {
		return c.standbyFiles(e, n, c.primaryConninfo(e, master, n))
	}
	c.say("pg_rewind cannot rejoin %s (%s); making it anew from a base backup.", n.Name, lastLine(err.Error()))
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	return c.initStandby(ctx, e, n)
}

// lastLine is the last line of a command's error: its own last words.
func lastLine(s string) string {
	s = strings.TrimSpace(s)
	return s[strings.LastIndex(s, "\n")+1:]
}

// RejoinDatanode makes the fenced former datanode of name (the config keeps
// it as NAME_fenced after a failover) a standby of the datanode again:
// pg_rewind, or a new base backup, then streaming and synchronous; it takes
// the name NAME_standby when that is free, and the coordinators learn it.
func (c *Cluster) RejoinDatanode(ctx context.Context, name string) error {
	if err := c.AdoptFailovers(ctx); err != nil {
		return err
	}
	fenced, ok := c.Config.FencedOf(name)
	if !ok {
		return fmt.Errorf("rejoin datanode %s: the config keeps no former datanode of it (a failover leaves one, fenced)", name)
	}
	if sb, ok := c.Config.StandbyOf(name); ok {
		return fmt.Errorf("rejoin datanode %s: it has a standby already (%s)", name, sb.Name)
	}
	n := fenced
	n.Fenced = false
	if _, _, taken := c.Config.Node(name + "_standby"); !taken {
		n.Name = name + "_standby"
	}
	cfg := *c.Config
	cfg.DatanodeStandbys = nil
	for _, s := range c.Config.DatanodeStandbys {
		if s.Name == fenced.Name {
			s = n
		}
		cfg.DatanodeStandbys = append(cfg.DatanodeStandbys, s)
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("invalid config after the rejoin of %s: %w", n.Name, err)
	}
	prev := c.Config
	c.Config = &cfg
	err := c.rejoin(ctx, n)
	if err != nil {
		c.Config = prev
		return fmt.Errorf("rejoin datanode %s: %w", name, err)
	}
	if err := c.writeConfig(&cfg); err != nil {
		return err
	}
	for _, co := range cfg.Coordinators {
		if err := c.coordinatorStep(ctx, co, "register", ""); err != nil {
			return fmt.Errorf("%s is the standby of %s, but coordinator %s does not know it yet (xlctl register): %w", n.Name, name, co.Name, err)
		}
	}
	c.say("%s (%s) is the synchronous standby of datanode %s again.", n.Name, n.Addr(), name)
	return nil
}

// rejoin rewinds n on its host, starts it and makes it its datanode's
// synchronous standby.
func (c *Cluster) rejoin(ctx context.Context, n Node) error {
	e, err := c.resolveFor([]Node{n})
	if err != nil {
		return err
	}
	if c.remote(n) {
		if _, err := c.onHost(ctx, n, "rejoin"); err != nil {
			return err
		}
	} else {
		if err := c.prepareLocal(e, n); err != nil {
			return err
		}
		if err := c.rewind(ctx, e, n); err != nil {
			return err
		}
	}
	if err := c.startNode(ctx, e, n, RoleDatanodeStandby); err != nil {
		return err
	}
	master, _, _ := c.Config.Node(n.Of)
	return c.pgStep(ctx, master, "sync", n.Name)
}

// touchLog creates a PostgreSQL node's log for pg_ctl -l, owned by the
// PostgreSQL account.
func (c *Cluster) touchLog(e *env, n Node) error {
	f, err := os.OpenFile(c.LogPath(n.Name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	f.Close()
	return e.pgUser.chown(c.LogPath(n.Name))
}

// makeStandby makes standby n from its running datanode, starts it, waits
// until it streams and makes it the datanode's synchronous standby.
func (c *Cluster) makeStandby(ctx context.Context, e *env, n Node) error {
	if err := c.initNode(ctx, e, n, RoleDatanodeStandby); err != nil {
		return err
	}
	if err := c.startNode(ctx, e, n, RoleDatanodeStandby); err != nil {
		return err
	}
	master, _, _ := c.Config.Node(n.Of)
	return c.pgStep(ctx, master, "sync", n.Name)
}

// pgStep runs a step on PostgreSQL node n, on its host: sync (make ARG its
// synchronous standby, once it streams; "" for none), promote.
func (c *Cluster) pgStep(ctx context.Context, n Node, verb, arg string) error {
	if c.remote(n) {
		_, err := c.onHost(ctx, n, verb, arg)
		return err
	}
	e, err := c.resolveFor([]Node{n})
	if err != nil {
		return err
	}
	conn, err := c.connectPG(ctx, e, n)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	switch verb {
	case "sync":
		return c.setSyncStandby(ctx, conn, n, arg)
	case "promote":
		return c.promote(ctx, conn, n)
	case "hba":
		return c.writeHBA(ctx, e, conn, n)
	case "copyschema":
		return c.copySchema(ctx, e, n, arg)
	}
	return fmt.Errorf("unknown step %q", verb)
}

// connectPG connects to datanode or standby n as the PostgreSQL superuser.
func (c *Cluster) connectPG(ctx context.Context, e *env, n Node) (*pgx.Conn, error) {
	_, role, _ := c.Config.Node(n.Name)
	cc, err := pgx.ParseConfig(fmt.Sprintf("host=%s port=%d user=%s dbname=postgres sslmode=disable connect_timeout=10",
		c.connHost(n, role), n.Port, pgAccount(e)))
	if err != nil {
		return nil, err
	}
	cc.RuntimeParams["application_name"] = "xlctl"
	return pgx.ConnectConfig(ctx, cc)
}

func (c *Cluster) setSyncStandby(ctx context.Context, conn *pgx.Conn, n Node, standby string) error {
	// until waits (bounded) for the standby's row of pg_stat_replication to
	// match cond.
	until := func(what, cond string) error {
		wctx, cancel := context.WithTimeout(ctx, streamWait)
		defer cancel()
		for {
			var ok bool
			err := conn.QueryRow(wctx, "SELECT EXISTS (SELECT 1 FROM pg_stat_replication WHERE application_name = $1 AND "+cond+")", standby).Scan(&ok)
			if err == nil && ok {
				return nil
			}
			select {
			case <-wctx.Done():
				return fmt.Errorf("standby %s is not %s of %s within %s (%v)", standby, what, n.Name, streamWait, err)
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	names := ""
	if standby != "" {
		c.say("Wait for standby %s to stream from %s", standby, n.Name)
		if err := until("streaming", "state = 'streaming'"); err != nil {
			return err
		}
		names = sqlIdent(standby)
	}
	c.say("Datanode %s: synchronous_standby_names = '%s'", n.Name, names)
	if err := pgha.SetSyncStandby(ctx, conn, names); err != nil {
		return err
	}
	if standby == "" {
		return nil
	}
	return until("the synchronous standby", "sync_state = 'sync'") // the reload takes a moment
}

// promote ends recovery on standby n and makes it stand alone (pgha.Promote).
func (c *Cluster) promote(ctx context.Context, conn *pgx.Conn, n Node) error {
	c.say("Promote datanode standby %s", n.Name)
	if err := pgha.Promote(ctx, conn); err != nil {
		return fmt.Errorf("standby %s: %w", n.Name, err)
	}
	return nil
}

// Replication is a standby as its datanode sees it (pg_stat_replication).
type Replication struct {
	Standby   string `json:"standby"`
	State     string `json:"state"`      // streaming, catchup, ...
	SyncState string `json:"sync_state"` // sync, async, potential, quorum
	ReplayLag string `json:"replay_lag"` // "" when caught up and idle
	Behind    int64  `json:"behind"`     // bytes sent but not replayed
}

// replicationOf lists the standbys streaming from datanode n.
func (c *Cluster) replicationOf(ctx context.Context, n Node) ([]Replication, error) {
	if c.remote(n) {
		out, err := c.onHost(ctx, n, "replication")
		if err != nil {
			return nil, err
		}
		var list []Replication
		return list, json.Unmarshal(out, &list)
	}
	e, err := c.resolveFor([]Node{n})
	if err != nil {
		return nil, err
	}
	conn, err := c.connectPG(ctx, e, n)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, `SELECT application_name, state, sync_state, coalesce(replay_lag::text, ''),
		coalesce(pg_wal_lsn_diff(sent_lsn, replay_lsn), 0)::int8 FROM pg_stat_replication ORDER BY 1`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[Replication])
}

// StandbyStatus is a datanode standby's line of xlctl status.
type StandbyStatus struct {
	Name, Of string
	Replication
	Err error // its datanode could not be asked
}

// Standbys reports how every datanode standby of the config streams.
func (c *Cluster) Standbys(ctx context.Context) []StandbyStatus {
	var out []StandbyStatus
	for _, sb := range c.Config.DatanodeStandbys {
		st := StandbyStatus{Name: sb.Name, Of: sb.Of}
		if sb.Fenced {
			st.State = "fenced: the datanode it was (xlctl rejoin datanode " + sb.Of + ")"
			out = append(out, st)
			continue
		}
		master, _, _ := c.Config.Node(sb.Of)
		list, err := c.replicationOf(ctx, master)
		st.Err = err
		for _, r := range list {
			if r.Standby == sb.Name {
				st.Replication = r
			}
		}
		out = append(out, st)
	}
	return out
}

// AddStandby adds standby n (n.Of names its datanode) to the running
// cluster: base backup, start, synchronous; then the config lists it.
func (c *Cluster) AddStandby(ctx context.Context, n Node) error {
	cfg := *c.Config
	cfg.DatanodeStandbys = append(append([]Node{}, c.Config.DatanodeStandbys...), n)
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("invalid config with standby %s: %w", n.Name, err)
	}
	prev := c.Config
	c.Config = &cfg
	e, err := c.resolveFor([]Node{n})
	if err == nil {
		if err = c.prepareLocal(e, n); err == nil {
			err = c.makeStandby(ctx, e, n)
		}
	}
	if err != nil {
		c.Config = prev
		return fmt.Errorf("add standby %s of %s: %w", n.Name, n.Of, err)
	}
	if err := c.writeConfig(&cfg); err != nil {
		return err
	}
	for _, co := range cfg.Coordinators { // they fail over to it, and watch it
		if err := c.coordinatorStep(ctx, co, "register", ""); err != nil {
			return fmt.Errorf("%s streams, but coordinator %s does not know it yet (xlctl register): %w", n.Name, co.Name, err)
		}
	}
	return nil
}

// prepareLocal makes the home's log and run directories when node n runs here.
func (c *Cluster) prepareLocal(e *env, n Node) error {
	if c.remote(n) {
		return nil
	}
	for _, d := range []string{filepath.Join(c.Home, "log"), filepath.Join(c.Home, "run")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	return nil
}

// FailoverDatanode makes the standby of datanode name the datanode, as the
// coordinators do by themselves when it is lost: the failover is claimed at
// the gtm (so no coordinator promotes at the same time; when one already
// did, its result is adopted), the old datanode is stopped where it can be
// reached (reachable or not, no coordinator connects to it any more), the
// standby is promoted and recorded at the gtm as the datanode, every
// coordinator is repointed (ALTER NODE, pgxc_pool_reload) and the config
// rewritten with the standby in the datanode's place, under its name. The
// datanode's prepared transactions are on the standby; the coordinators'
// resolvers finish them by the gtm's decisions.
func (c *Cluster) FailoverDatanode(ctx context.Context, name string) error {
	if err := c.Config.Validate(); err != nil {
		return fmt.Errorf("invalid config: %w", err)
	}
	old, role, ok := c.Config.Node(name)
	if !ok || role != RoleDatanode {
		return fmt.Errorf("failover datanode %s: no such datanode in the config", name)
	}
	sb, ok := c.Config.StandbyOf(name)
	if !ok {
		return fmt.Errorf("failover datanode %s: it has no standby (datanode_standbys, or xlctl add standby)", name)
	}
	from, to := old.Addr(), sb.Addr()
	g, err := c.dialGTM(ctx, gtmDialTimeout)
	if err != nil {
		return fmt.Errorf("failover datanode %s: %w", name, err)
	}
	defer g.Close()
	claim := claimer(g)
	f := &pgha.Failovers{Node: name}
	if err := f.Read(ctx, claim); err != nil {
		return fmt.Errorf("failover datanode %s: read its failovers at the gtm: %w", name, err)
	}
	if at := f.Follow(from); at != from {
		return fmt.Errorf("failover datanode %s: it failed over to %s already (xlctl start or status adopts it into the config)", name, at)
	}
	term := f.Term() + 1 // this failover's
	if _, async, err := pgha.SyncState(ctx, claim, name, term-1, from, to); err != nil || async {
		if err == nil {
			err = fmt.Errorf("its standby %s is not synchronous: it was lost and the datanode went on without it, so it may lack acknowledged commits (it is synchronous again once it streams and has caught up)", sb.Name)
		}
		return fmt.Errorf("failover datanode %s: %w", name, err)
	}
	mine := pgha.FailoverClaim("xlctl", from, to)
	won, err := claim(ctx, pgha.FailoverKey(name, term), mine)
	if err != nil {
		return fmt.Errorf("failover datanode %s: claim it at the gtm: %w", name, err)
	}
	if won != mine {
		who, _, _ := pgha.ParseFailoverClaim(won)
		c.say("%s is failing datanode %s over already; waiting for it.", who, name)
		wctx, cancel := context.WithTimeout(ctx, promoteWait)
		defer cancel()
		for {
			if done, err := claim(wctx, pgha.FailoverDoneKey(name, term), ""); err == nil && done != "" {
				break
			}
			select {
			case <-wctx.Done():
				return fmt.Errorf("failover datanode %s: %s claimed it but did not finish within %s", name, won, promoteWait)
			case <-time.After(time.Second):
			}
		}
	} else {
		e, err := c.resolveFor([]Node{old})
		if err != nil {
			return err
		}
		if err := c.stopNode(ctx, e, old, RoleDatanode, "immediate"); err != nil {
			var he *HostError
			if !errors.As(err, &he) {
				return fmt.Errorf("stop the old datanode %s: %w", name, err)
			}
			c.say("The old datanode %s cannot be stopped (%v); the coordinators stop using it now.", name, err)
		}
		if err := c.pgStep(ctx, sb, "promote", ""); err != nil {
			return fmt.Errorf("promote %s: %w", sb.Name, err)
		}
		if _, err := claim(ctx, pgha.FailoverDoneKey(name, term), to); err != nil {
			return fmt.Errorf("%s is promoted, but recording it at the gtm failed: %w", sb.Name, err)
		}
	}
	if err := c.adoptFailover(name, sb); err != nil {
		return err
	}
	var errs []error
	for _, co := range c.Config.Coordinators {
		if err := c.coordinatorStep(ctx, co, "register", ""); err != nil {
			errs = append(errs, fmt.Errorf("repoint coordinator %s: %w", co.Name, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%s is the datanode %s now, but: %w (run xlctl register once they answer)", sb.Name, name, err)
	}
	c.say("Datanode %s is %s (%s) now; it has no standby (xlctl add standby %s ...).", name, sb.Name, to, name)
	return nil
}

// promoteWait bounds the wait for a failover another actor claimed.
const promoteWait = 2 * time.Minute

// dialGTM connects, within d, to the cluster's gtm: the gtm or its standby,
// whichever serves.
func (c *Cluster) dialGTM(ctx context.Context, d time.Duration) (*gtmclient.Client, error) {
	dctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	g, err := gtmclient.Dial(dctx, c.Config.GTMAddrs())
	if err != nil {
		return nil, fmt.Errorf("gtm %s: %w", c.Config.GTMAddrs(), err)
	}
	return g, nil
}

// claimer makes claims at g, each bounded (the records: internal/pgha).
func claimer(g *gtmclient.Client) pgha.Claim {
	return func(ctx context.Context, key, value string) (string, error) {
		ctx, cancel := context.WithTimeout(ctx, gtmDialTimeout)
		defer cancel()
		return g.Claim(ctx, key, value)
	}
}

// adoptFailover rewrites the config with standby sb as datanode name, under
// that name, at the standby's address and directory, without a standby; the
// old datanode stays in it, fenced, as NAME_fenced (for xlctl rejoin).
func (c *Cluster) adoptFailover(name string, sb Node) error {
	old, _, _ := c.Config.Node(name)
	fenced := Node{Name: name + "_fenced", Host: old.Host, Port: old.Port, Dir: c.DataDir(old.Name), Of: name, Fenced: true}
	cfg := *c.Config
	cfg.Datanodes = append([]Node{}, c.Config.Datanodes...)
	for i := range cfg.Datanodes {
		if cfg.Datanodes[i].Name == name {
			cfg.Datanodes[i].Host, cfg.Datanodes[i].Port, cfg.Datanodes[i].Dir = sb.Host, sb.Port, c.DataDir(sb.Name)
		}
	}
	cfg.DatanodeStandbys = nil
	for _, n := range c.Config.DatanodeStandbys {
		if n.Name == fenced.Name {
			c.say("Forgetting %s (%s, dir %s): a later failover fences datanode %s again.", n.Name, n.Addr(), n.Dir, name)
		}
		if n.Name != sb.Name && n.Name != fenced.Name {
			cfg.DatanodeStandbys = append(cfg.DatanodeStandbys, n)
		}
	}
	if _, _, taken := cfg.Node(fenced.Name); !taken {
		cfg.DatanodeStandbys = append(cfg.DatanodeStandbys, fenced)
	}
	if err := c.writeConfig(&cfg); err != nil {
		return fmt.Errorf("%s is datanode %s now, but the config could not be rewritten: %w", sb.Name, name, err)
	}
	c.Config = &cfg
	return nil
}

// adoptGTMFailover swaps gtm and gtm_standby in the config when the standby
// says it is the primary (it promoted itself, or was promoted by hand
// elsewhere), and stops the old gtm where it still runs (cut off, it serves
// no one; it cannot follow the new one as it is), so that xlctl start brings
// it back as the new one's standby.
func (c *Cluster) adoptGTMFailover(ctx context.Context) error {
	if !c.Config.HasGTMStandby() {
		return nil
	}
	dctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	g, err := gtmclient.Dial(dctx, c.Config.GTMStandby.Addr())
	if err != nil {
		return nil
	}
	defer g.Close()
	info, err := g.NodeInfo(dctx)
	if err != nil || info.Standby {
		return nil
	}
	old, standby := c.Config.GTM, c.Config.GTMStandby
	c.say("GTM %s (%s) is the primary now (generation %d): the config follows, %s becomes its standby.", standby.Name, standby.Addr(), info.Generation, old.Name)
	cfg := *c.Config
	cfg.GTM, cfg.GTMStandby = standby, old
	if err := c.writeConfig(&cfg); err != nil {
		return err
	}
	c.Config = &cfg
	if err := c.stopNode(ctx, nil, old, RoleGTMStandby, "fast"); err != nil {
		c.say("The old gtm %s could not be stopped (%v); stop it before xlctl start.", old.Name, err)
	}
	return nil
}

// AdoptFailovers brings the config up to date with the datanode failovers
// the coordinators carried out by themselves (recorded at the gtm). Without
// standbys it does nothing; a gtm that does not answer leaves the config as
// it is.
func (c *Cluster) AdoptFailovers(ctx context.Context) error {
	if err := c.adoptGTMFailover(ctx); err != nil {
		return err
	}
	if len(c.Config.DatanodeStandbys) == 0 {
		return nil
	}
	g, err := c.dialGTM(ctx, time.Second)
	if err != nil {
		return nil
	}
	defer g.Close()
	claim := claimer(g)
	for _, sb := range c.Config.activeStandbys() {
		old, _, ok := c.Config.Node(sb.Of)
		if !ok {
			continue
		}
		f := &pgha.Failovers{Node: old.Name}
		if err := f.Read(ctx, claim); err != nil {
			return nil
		}
		if f.Follow(old.Addr()) == sb.Addr() {
			c.say("Datanode %s failed over to its standby %s (%s); the config follows.", old.Name, sb.Name, sb.Addr())
			if err := c.adoptFailover(old.Name, sb); err != nil {
				return err
			}
		}
	}
	return nil
}

// AddCoordinator adds coordinator n to the running cluster: it starts with
// every node registered on it, every other coordinator registers it, and the
// config lists it. Tables need nothing more: a coordinator reads their
// distribution from the datanodes' catalog.
func (c *Cluster) AddCoordinator(ctx context.Context, n Node) error {
	cfg := *c.Config
	cfg.Coordinators = append(append([]Node{}, c.Config.Coordinators...), n)
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("invalid config with coordinator %s: %w", n.Name, err)
	}
	prev := c.Config
	c.Config = &cfg
	err := c.addCoordinator(ctx, n)
	if err != nil {
		c.Config = prev
		return fmt.Errorf("add coordinator %s: %w", n.Name, err)
	}
	return c.writeConfig(&cfg)
}

func (c *Cluster) addCoordinator(ctx context.Context, n Node) error {
	e, err := c.resolveFor([]Node{n})
	if err != nil {
		return err
	}
	if err := c.initNode(ctx, e, n, RoleCoordinator); err != nil {
		return err
	}
	if err := c.prepareLocal(e, n); err != nil {
		return err
	}
	if err := c.startNode(ctx, e, n, RoleCoordinator); err != nil {
		return err
	}
	for _, co := range c.Config.Coordinators { // the new one first knows every node, then every one knows it
		if err := c.coordinatorStep(ctx, co, "register", ""); err != nil {
			return fmt.Errorf("register on coordinator %s: %w", co.Name, err)
		}
	}
	return c.coordinatorStep(ctx, n, "check", "")
}
