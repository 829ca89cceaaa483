package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xlgo/xlgo/catalog"
	"github.com/xlgo/xlgo/internal/pgha"
	"github.com/xlgo/xlgo/pooler"
)

// Automatic failover of datanodes. Every coordinator probes each datanode
// that has a standby (pgxc_node's STANDBY_HOST/STANDBY_PORT, xlgo's own node
// options). A datanode that has not answered for FailoverOptions.After is
// lost: the coordinator claims its next failover at the gtm (the first
// claim of "failover NODE #TERM", TERM one more than the failovers done,
// wins, durably, so two coordinators never promote two standbys, and a
// coordinator that restarts finds its own claim again; see pgha's records).
// The winner promotes the standby (pg_promote, then no synchronous standby
// of its own) and records "... done" at the gtm. Every coordinator, the
// winner included, reads the done failovers and follows those away from the
// address it knows: it repoints the node to the standby in its own
// pgxc_node (node_id, and so xc_node_id, stay).
// No coordinator reaches the old address after that: the old datanode is
// fenced, and with synchronous replication it could not acknowledge a
// commit on its own since its standby left it anyway. While a datanode is
// lost, a statement that needs a new connection to it waits (up to Wait)
// for the failover instead of failing at once.
//
// A synchronous standby that is lost would hold every commit of its datanode
// forever. Once it has not answered for After, the coordinators first record
// at the gtm that the datanode runs without a synchronous standby, then make
// the datanode run so (synchronous_standby_names = ''); a datanode in that
// state is never failed over, since its standby may lack acknowledged
// commits. When the standby streams again, the datanode waits for it again,
// and once the standby has all the WAL written until then, the gtm records it
// synchronous again. These records are claims too: "sync NODE #TERM A->B #k" for
// k = 1, 2, ..., "async" for odd k and "sync" for even k.

// FailoverOptions tune automatic failover; After 0 turns it off.
type FailoverOptions struct {
	After time.Duration // a datanode unreachable this long is failed over (default 5 s)
	Probe time.Duration // how often datanodes are probed (default 1 s)
	Wait  time.Duration // how long a statement waits for a lost datanode (default 30 s)
	User  string        // the superuser that promotes a standby
}

type failoverMonitor struct {
	co   *Coordinator
	opts FailoverOptions

	lostSet atomic.Pointer[map[string]bool] // the nodes of down, for lost (read on every plan)

	mu      sync.Mutex
	down    map[string]time.Time       // node -> when it first failed a probe at its address
	sbDown  map[string]time.Time       // node -> when its standby first failed a probe
	running map[string]bool            // node -> a takeover runs
	terms   map[string]*pgha.Failovers // node -> its failovers done, as read from the gtm (the run loop's)
	changed chan struct{}              // closed when a node was repointed
}

// StartFailover probes the datanodes until ctx ends and fails them over as
// above. It needs the gtm.
func (c *Coordinator) StartFailover(ctx context.Context, o FailoverOptions) {
	if c.GTM == nil || o.After <= 0 {
		return
	}
	if o.Probe <= 0 {
		o.Probe = time.Second
	}
	if o.Wait <= 0 {
		o.Wait = 30 * time.Second
	}
	m := &failoverMonitor{co: c, opts: o, down: map[string]time.Time{}, sbDown: map[string]time.Time{}, running: map[string]bool{},
		terms: map[string]*pgha.Failovers{}, changed: make(chan struct{})}
	c.failover = m
	c.Pool.SetFailover(m.await)
	go m.run(ctx)
}

func (m *failoverMonitor) run(ctx context.Context) {
	t := time.NewTicker(m.opts.Probe)
	defer t.Stop()
	for {
		for _, n := range m.co.Nodes.Datanodes() {
			if n.StandbyHost != "" {
				m.check(ctx, n)
			} else {
				m.probeOnly(ctx, n)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func addrOf(host string, port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }

// check probes datanode n once, adopts a failover another coordinator
// finished, and starts one when n has been lost long enough.
func (m *failoverMonitor) check(ctx context.Context, n catalog.Node) {
	from := addrOf(n.Host, n.Port)
	f := m.terms[n.Name]
	if f == nil {
		f = &pgha.Failovers{Node: n.Name}
		m.terms[n.Name] = f
	}
	cctx, cancel := context.WithTimeout(ctx, m.opts.Probe)
	err := f.Read(cctx, m.co.GTM.Claim)
	cancel()
	if err != nil {
		// Without the gtm's records no failover is started (nor could
		// one be claimed); the datanode is still probed for reads.
		m.probeOnly(ctx, n)
		return
	}
	if to := f.Follow(from); to != from {
		m.repoint(n, to)
		return
	}
	term := f.Term()
	if probe(ctx, from, max(m.opts.Probe, time.Second)) == nil {
		m.markDown(n.Name, false)
		m.checkStandby(ctx, n, term)
		return
	}
	since, changed := m.markDown(n.Name, true)
	if changed {
		m.co.Logger.Warn("datanode does not answer", "datanode", n.Name, "addr", from, "failover_after", m.opts.After)
	}
	m.mu.Lock()
	start := !changed && time.Since(since) >= m.opts.After && !m.running[n.Name]
	if start {
		m.running[n.Name] = true
	}
	m.mu.Unlock()
	if start {
		go func() {
			defer func() {
				m.mu.Lock()
				delete(m.running, n.Name)
				m.mu.Unlock()
			}()
			if err := m.takeOver(ctx, n, term); err != nil {
				m.co.Logger.Error("datanode failover failed; retrying", "datanode", n.Name, "err", err)
			}
		}()
	}
}

// probeOnly keeps whether datanode n, which has no standby, answers (see
// preferredDatanode).
func (m *failoverMonitor) probeOnly(ctx context.Context, n catalog.Node) {
	m.markDown(n.Name, probe(ctx, addrOf(n.Host, n.Port), max(m.opts.Probe, time.Second)) != nil)
}

// markDown records whether datanode name failed its last probe. It returns
// since when it has failed them (zero when it answers) and whether that
// changed; a change drops the plans made with the old preferredDatanode
// (they are derived from the catalog's generation).
func (m *failoverMonitor) markDown(name string, down bool) (since time.Time, changed bool) {
	m.mu.Lock()
	since, was := m.down[name]
	switch {
	case down && !was:
		since = time.Now()
		m.down[name] = since
	case !down && was:
		delete(m.down, name)
		since = time.Time{}
	}
	changed = down != was
	if changed {
		set := make(map[string]bool, len(m.down))
		for n := range m.down {
			set[n] = true
		}
		m.lostSet.Store(&set)
	}
	m.mu.Unlock()
	if changed {
		m.co.Cache.Invalidate()
	}
	return since, changed
}

// probe checks that a PostgreSQL server answers at addr: it sends an
// SSLRequest and waits for the one-byte answer, which needs no login.
func probe(ctx context.Context, addr string, d time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var dialer net.Dialer
	c, err := dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	if _, err := c.Write([]byte{0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f}); err != nil {
		return err
	}
	b := make([]byte, 1)
	if _, err := c.Read(b); err != nil {
		return err
	}
	if b[0] != 'S' && b[0] != 'N' {
		return fmt.Errorf("unexpected answer %q to SSLRequest", b[0])
	}
	return nil
}

// takeOver claims n's failover, the one after the term failovers done,
// and, when this coordinator wins, promotes the standby and records that it
// serves.
func (m *failoverMonitor) takeOver(ctx context.Context, n catalog.Node, term int) error {
	from, to := addrOf(n.Host, n.Port), addrOf(n.StandbyHost, n.StandbyPort)
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if _, async, err := m.syncState(ctx, n, term); err != nil || async {
		if err == nil {
			err = errors.New("its standby is not synchronous (it was lost, and the datanode went on without it): it may lack acknowledged commits; fail over by hand if that is acceptable")
		}
		return fmt.Errorf("not failing over: %w", err)
	}
	mine := pgha.FailoverClaim(m.co.Name, from, to)
	won, err := m.co.GTM.Claim(ctx, pgha.FailoverKey(n.Name, term+1), mine)
	if err != nil {
		return fmt.Errorf("claim at the gtm: %w", err)
	}
	if won != mine {
		m.co.Logger.Info("datanode failover claimed by another", "datanode", n.Name, "by", describeFailover(won))
		return nil
	}
	m.co.Logger.Warn("failing datanode over to its standby", "datanode", n.Name, "from", from, "to", to)
	if err := promoteStandby(ctx, n.StandbyHost, n.StandbyPort, m.opts.User); err != nil {
		return fmt.Errorf("promote %s: %w", to, err)
	}
	m.co.Metrics.failovers.Inc()
	if _, err := m.co.GTM.Claim(ctx, pgha.FailoverDoneKey(n.Name, term+1), to); err != nil {
		return fmt.Errorf("record the failover at the gtm: %w", err)
	}
	m.repoint(n, to)
	return nil
}

// promoteStandby makes the standby at host:port stand alone (pgha.Promote).
func promoteStandby(ctx context.Context, host string, port int, user string) error {
	conn, err := connectPG(ctx, host, port, user)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	return pgha.Promote(ctx, conn)
}

// repoint makes this coordinator reach datanode n at addr (its promoted
// standby) from now on, without a standby.
func (m *failoverMonitor) repoint(n catalog.Node, addr string) {
	host, p, err := net.SplitHostPort(addr)
	port, perr := strconv.Atoi(p)
	if err != nil || perr != nil {
		m.co.Logger.Error("bad failover address at the gtm", "datanode", n.Name, "addr", addr)
		return
	}
	err = m.co.Nodes.AlterNode(n.Name, func(cur *catalog.Node) error {
		if cur.Host != n.Host || cur.Port != n.Port {
			return errRepointed // someone (xlctl) did it meanwhile
		}
		cur.Host, cur.Port, cur.StandbyHost, cur.StandbyPort = host, port, "", 0
		return nil
	})
	if err != nil && !errors.Is(err, errRepointed) {
		m.co.Logger.Error("repoint datanode", "datanode", n.Name, "err", err)
		return
	}
	m.co.Pool.CloseIdle(func(k pooler.Key) bool { return k.Node == n.Name })
	if _, changed := m.markDown(n.Name, false); !changed {
		m.co.Cache.Invalidate()
	}
	m.mu.Lock()
	close(m.changed)
	m.changed = make(chan struct{})
	m.mu.Unlock()
	m.co.Logger.Warn("datanode failed over", "datanode", n.Name, "from", addrOf(n.Host, n.Port), "to", addr)
	if m.co.ResolveSoon != nil {
		m.co.ResolveSoon() // the old datanode's prepared transactions are on the standby
	}
}

var errRepointed = errors.New("already repointed")

// await is the pool's Failover hook: when node, unreachable at host:port,
// has a standby, it waits up to Wait for the node to be repointed.
func (m *failoverMonitor) await(ctx context.Context, node, host string, port int) bool {
	deadline := time.NewTimer(m.opts.Wait)
	defer deadline.Stop()
	for {
		m.mu.Lock()
		ch := m.changed // before the node is read: a repoint after that closes it
		m.mu.Unlock()
		n, ok := m.co.Nodes.Node(node)
		if !ok {
			return false
		}
		if n.Host != host || n.Port != port {
			return true
		}
		if n.StandbyHost == "" {
			return false
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return false
		case <-deadline.C:
			return false
		}
	}
}

// describeFailover is for logs and errors: who claimed a failover.
func describeFailover(claim string) string {
	who, _, to := pgha.ParseFailoverClaim(claim)
	return fmt.Sprintf("%s, to %s", who, to)
}

// syncState reads the gtm's record of whether n waits for its standby.
func (m *failoverMonitor) syncState(ctx context.Context, n catalog.Node, term int) (k int, async bool, err error) {
	return pgha.SyncState(ctx, m.co.GTM.Claim, n.Name, term, addrOf(n.Host, n.Port), addrOf(n.StandbyHost, n.StandbyPort))
}

// checkStandby probes datanode n's standby: lost for After, n stops
// waiting for it; streaming again, n waits for it again.
func (m *failoverMonitor) checkStandby(ctx context.Context, n catalog.Node, term int) {
	ok := probe(ctx, addrOf(n.StandbyHost, n.StandbyPort), max(m.opts.Probe, time.Second)) == nil
	m.mu.Lock()
	since, was := m.sbDown[n.Name]
	switch {
	case ok:
		delete(m.sbDown, n.Name)
	case !was:
		m.sbDown[n.Name] = time.Now()
	}
	m.mu.Unlock()
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var err error
	switch {
	case !ok && was && time.Since(since) >= m.opts.After:
		err = m.unsync(cctx, n, term)
	case ok:
		err = m.resync(cctx, n, term)
	}
	if err != nil {
		m.co.Logger.Warn("synchronous standby", "datanode", n.Name, "err", err)
	}
}

// unsync records at the gtm that n runs without its synchronous standby,
// then makes it do so.
func (m *failoverMonitor) unsync(ctx context.Context, n catalog.Node, term int) error {
	if streaming, err := m.streaming(ctx, n); err != nil || streaming {
		// The datanode has its standby: only this coordinator cannot
		// reach it.
		return err
	}
	k, async, err := m.syncState(ctx, n, term)
	if err != nil {
		return err
	}
	if !async {
		v, err := m.co.GTM.Claim(ctx, pgha.SyncKey(n.Name, term, addrOf(n.Host, n.Port), addrOf(n.StandbyHost, n.StandbyPort), k+1), "async")
		if err != nil || v != "async" {
			return err
		}
		m.co.Logger.Warn("standby lost: the datanode goes on without a synchronous standby, and cannot fail over until it is back",
			"datanode", n.Name, "standby", addrOf(n.StandbyHost, n.StandbyPort), "after", m.opts.After)
	}
	if err := m.setSync(ctx, n, ""); err != nil {
		return err
	}
	// Another coordinator may have found the standby back and recorded
	// it synchronous meanwhile: the datanode must then wait for it (the
	// record allows a failover to it).
	if k2, async, err := m.syncState(ctx, n, term); err != nil || !async && k2 > k {
		return errors.Join(err, m.setSync(ctx, n, "*"))
	}
	return nil
}

// streaming tells whether datanode n's standby streams from it.
func (m *failoverMonitor) streaming(ctx context.Context, n catalog.Node) (bool, error) {
	conn, err := connectPG(ctx, n.Host, n.Port, m.opts.User)
	if err != nil {
		return false, err
	}
	defer conn.Close(context.Background())
	var streaming bool
	err = conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_stat_replication WHERE state = 'streaming')").Scan(&streaming)
	return streaming, err
}

// resync makes n wait for its standby again once the standby streams, and,
// when the standby has every WAL record written until then, records at the
// gtm that it is synchronous again.
func (m *failoverMonitor) resync(ctx context.Context, n catalog.Node, term int) error {
	k, async, err := m.syncState(ctx, n, term)
	if err != nil || !async {
		return err
	}
	if streaming, err := m.streaming(ctx, n); err != nil || !streaming {
		return err
	}
	conn, err := connectPG(ctx, n.Host, n.Port, m.opts.User)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if err := m.setSync(ctx, n, "*"); err != nil {
		return err
	}
	var caught bool
	err = conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_replication
		WHERE sync_state = 'sync' AND flush_lsn >= pg_current_wal_lsn())`).Scan(&caught)
	if err != nil || !caught {
		return err // the next probe looks again
	}
	if _, err := m.co.GTM.Claim(ctx, pgha.SyncKey(n.Name, term, addrOf(n.Host, n.Port), addrOf(n.StandbyHost, n.StandbyPort), k+1), "sync"); err != nil {
		return err
	}
	m.co.Logger.Info("standby back: the datanode waits for it again", "datanode", n.Name, "standby", addrOf(n.StandbyHost, n.StandbyPort))
	return nil
}

// setSync sets synchronous_standby_names on datanode n.
func (m *failoverMonitor) setSync(ctx context.Context, n catalog.Node, names string) error {
	conn, err := connectPG(ctx, n.Host, n.Port, m.opts.User)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	var cur string
	if err := conn.QueryRow(ctx, "SHOW synchronous_standby_names").Scan(&cur); err != nil || cur == names {
		return err
	}
	return pgha.SetSyncStandby(ctx, conn, names)
}

// connectPG connects to the PostgreSQL at host:port as user (a superuser).
func connectPG(ctx context.Context, host string, port int, user string) (*pgx.Conn, error) {
	cc, err := pgx.ParseConfig(fmt.Sprintf("host=%s port=%d dbname=postgres sslmode=disable connect_timeout=10 application_name='xlgo failover'", host, port))
	if err != nil {
		return nil, err
	}
	if user != "" {
		cc.User = user
	}
	return pgx.ConnectConfig(ctx, cc)
}

// lost tells whether datanode name failed its last probe (only datanodes
// are probed, and only with automatic failover on).
func (c *Coordinator) lost(name string) bool {
	m := c.failover
	if m == nil {
		return false
	}
	set := m.lostSet.Load()
	return set != nil && (*set)[name]
}

// preferredDatanode is the datanode a session reads what every datanode
// holds alike from (the catalog, roles, settings; statements the
// coordinator evaluates at a datanode): the preferred one, unless it is lost
// (it did not answer its last probe), then the first one that answered.
func (c *Coordinator) preferredDatanode() (catalog.Node, bool) {
	n, ok := c.Nodes.PreferredDatanode()
	if !ok || !c.lost(n.Name) {
		return n, ok
	}
	for _, d := range c.Nodes.Datanodes() {
		if !c.lost(d.Name) {
			return d, true
		}
	}
	return n, ok
}

// planNodes are the nodes the planner sees: pgxc_node, with the preferred
// flag on preferredDatanode.
func (c *Coordinator) planNodes() []catalog.Node {
	nodes := c.Nodes.Nodes()
	pref, ok := c.Nodes.PreferredDatanode()
	if !ok || !c.lost(pref.Name) {
		return nodes
	}
	eff, _ := c.preferredDatanode()
	nodes = slices.Clone(nodes)
	for i := range nodes {
		nodes[i].Preferred = nodes[i].Name == eff.Name
	}
	return nodes
}
