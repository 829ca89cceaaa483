package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/xlgo/xlgo/catalog"
	"github.com/xlgo/xlgo/pgerr"
	"github.com/xlgo/xlgo/pooler"
	"github.com/xlgo/xlgo/server"
)

// The admin console: a client that connects to the database named
// AdminDatabase talks to the coordinator itself, as pgbouncer's "pgbouncer"
// database does, with pgbouncer's commands (SHOW POOLS, PAUSE, KILL_CLIENT
// ...) over the simple query protocol. Superusers of the datanodes and the
// roles of AdminUsers may use it.

// AdminDatabase is the database name that reaches the admin console.
const AdminDatabase = "xlgo"

// PauseDrainWait bounds how long PAUSE waits for the transactions running
// when it came; it then returns with a WARNING, the pause in effect.
const PauseDrainWait = 30 * time.Second

// adminLookupWait bounds the console's round trips to datanodes.
const adminLookupWait = 5 * time.Second

// adminSession is one client of the admin console.
type adminSession struct {
	co   *Coordinator
	user string
	// superuser: the datanodes know the user as a superuser (else it is
	// one of AdminUsers).
	superuser bool

	mu   sync.Mutex
	stop context.CancelFunc // ends the running command (a CancelRequest)
}

// newAdminSession admits a client of the admin console, or refuses it with
// FATAL 42501, as pgbouncer refuses at login.
func (c *Coordinator) newAdminSession(ctx context.Context, st server.Startup) (server.Session, []server.ParamStatus, error) {
	a := &adminSession{co: c, user: st.User}
	if !slices.Contains(c.AdminUsers, st.User) {
		super, err := c.isSuperuser(ctx, st.User)
		if !super {
			refusal := &pgconn.PgError{Severity: "FATAL", Code: pgerr.InsufficientPrivilege, Message: "permission denied for the admin console",
				Hint: "Superusers and the roles of the coordinator's --admin-users may use it."}
			if err != nil {
				refusal.Detail = fmt.Sprintf("The role could not be checked on the datanodes: %v", err)
			}
			c.Logger.Info("admin console refused", "user", st.User, "err", err)
			return nil, nil, refusal
		}
		a.superuser = true
	}
	c.Logger.Info("admin console session", "user", st.User, "remote", addrString(st.RemoteAddr))
	return a, startupParams(st, a.superuser), nil
}

// isSuperuser tells whether the datanodes know user as a superuser
// (rolsuper), asking the first datanode that answers, as user itself.
func (c *Coordinator) isSuperuser(ctx context.Context, user string) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, StartupWait)
	defer cancel()
	var lastErr error
	for _, node := range c.startupNodes() {
		conn, err := c.Pool.Get(ctx, pooler.Key{Node: node, Database: "postgres", User: user}, "")
		if err != nil {
			lastErr = fmt.Errorf("datanode %s: %w", node, err)
			if unreachableErr(err) {
				continue
			}
			return false, lastErr
		}
		res := conn.ExecParams(ctx, "SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user", nil, nil, nil, nil).Read()
		if res.Err != nil {
			c.Pool.Discard(conn)
			return false, fmt.Errorf("datanode %s: %w", node, res.Err)
		}
		c.Pool.Put(conn)
		return len(res.Rows) == 1 && string(res.Rows[0][0]) == "t", nil
	}
	if lastErr == nil {
		lastErr = errors.New("no datanode is registered")
	}
	return false, lastErr
}

// SimpleQuery implements server.Session: one or more commands separated by ';'.
func (a *adminSession) SimpleQuery(ctx context.Context, sql string, w server.ResultWriter) error {
	var cmds []string
	for _, c := range strings.Split(sql, ";") {
		if c = strings.TrimSpace(c); c != "" {
			cmds = append(cmds, c)
		}
	}
	if len(cmds) == 0 {
		return w.EmptyQuery()
	}
	ctx, cancel := context.WithCancel(ctx)
	a.mu.Lock()
	a.stop = cancel
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		a.stop = nil
		a.mu.Unlock()
		cancel()
	}()
	for _, cmd := range cmds {
		if err := a.command(ctx, cmd, w); err != nil {
			return err
		}
	}
	return nil
}

// TxStatus implements server.Session: the console has no transactions.
func (a *adminSession) TxStatus() byte { return 'I' }

// Cancel implements server.Session.
func (a *adminSession) Cancel() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stop != nil {
		a.stop()
	}
}

// Close implements server.Session.
func (a *adminSession) Close() {}

// errAdminExtended refuses the extended query protocol.
func errAdminExtended() error {
	return pgerr.Unsupported("the admin console takes the simple query protocol only")
}

// Parse implements server.ExtendedSession: refused.
func (a *adminSession) Parse(context.Context, string, string, []uint32) error {
	return errAdminExtended()
}

// Bind implements server.ExtendedSession: refused.
func (a *adminSession) Bind(context.Context, string, string, []int16, [][]byte, []int16) error {
	return errAdminExtended()
}

// DescribeStatement implements server.ExtendedSession: refused.
func (a *adminSession) DescribeStatement(context.Context, string) ([]uint32, []pgproto3.FieldDescription, error) {
	return nil, nil, errAdminExtended()
}

// DescribePortal implements server.ExtendedSession: refused.
func (a *adminSession) DescribePortal(context.Context, string) ([]pgproto3.FieldDescription, error) {
	return nil, errAdminExtended()
}

// Execute implements server.ExtendedSession: refused.
func (a *adminSession) Execute(context.Context, string, uint32, server.ResultWriter) (bool, error) {
	return false, errAdminExtended()
}

// CloseObject implements server.ExtendedSession: refused.
func (a *adminSession) CloseObject(context.Context, byte, string) error { return errAdminExtended() }

// Sync implements server.ExtendedSession.
func (a *adminSession) Sync(context.Context) error { return nil }

// adminHelp is SHOW HELP's text.
const adminHelp = `Console usage
	SHOW HELP|POOLS|CLIENTS|SERVERS|STATS|NODES|CONFIG|VERSION
	PAUSE [<db>]
	RESUME [<db>]
	RELOAD
	KILL_CLIENT <id>
	SHUTDOWN [WAIT_FOR_CLIENTS]`

func invalidCommand(cmd string) error {
	return &pgconn.PgError{Severity: "ERROR", Code: pgerr.SyntaxError, Message: fmt.Sprintf("invalid command '%s', use SHOW HELP;", cmd)}
}

// command runs one console command.
func (a *adminSession) command(ctx context.Context, cmd string, w server.ResultWriter) error {
	f := strings.Fields(cmd)
	verb := strings.ToUpper(f[0])
	args := f[1:]
	arg := ""
	if len(args) > 0 {
		arg = args[0]
	}
	switch verb {
	case "SHOW":
		if len(args) != 1 {
			return invalidCommand(cmd)
		}
		return a.show(ctx, strings.ToUpper(arg), w)
	case "PAUSE", "RESUME":
		if len(args) > 1 {
			return invalidCommand(cmd)
		}
		db := strings.Trim(arg, `"`)
		if verb == "PAUSE" {
			return a.pause(ctx, db, w)
		}
		if err := a.co.admin.pause.resume(db); err != nil {
			return pgerr.New(pgerr.ObjectNotInPrerequisiteState, "cannot resume database %s alone: everything is paused; RESUME without a database", db)
		}
		a.co.Logger.Info("admin console: resume", "database", db, "user", a.user)
		return w.CommandComplete("RESUME")
	case "RELOAD":
		if len(args) != 0 {
			return invalidCommand(cmd)
		}
		if a.co.Reload == nil {
			return pgerr.Unsupported("RELOAD is not available on this coordinator")
		}
		a.co.Logger.Info("admin console: reload", "user", a.user)
		if err := a.co.Reload(); err != nil {
			var pe *pgconn.PgError
			if errors.As(err, &pe) {
				return pe
			}
			return pgerr.New(pgerr.ConfigFileError, "reload failed: %v", err)
		}
		return w.CommandComplete("RELOAD")
	case "KILL_CLIENT":
		if len(args) != 1 {
			return invalidCommand(cmd)
		}
		id, err := strconv.ParseUint(arg, 10, 64)
		if err != nil {
			return pgerr.New(pgerr.InvalidParameterValue, "KILL_CLIENT needs a client id (SHOW CLIENTS), not %q", arg)
		}
		return a.killClient(ctx, id, w)
	case "SHUTDOWN":
		wait := false
		switch {
		case len(args) == 1 && strings.EqualFold(arg, "WAIT_FOR_CLIENTS"):
			wait = true
		case len(args) != 0:
			return invalidCommand(cmd)
		}
		if a.co.Shutdown == nil {
			return pgerr.Unsupported("SHUTDOWN is not available on this coordinator")
		}
		a.co.Logger.Warn("admin console: shutdown", "wait_for_clients", wait, "user", a.user)
		go a.co.Shutdown(wait)
		return w.CommandComplete("SHUTDOWN")
	}
	return invalidCommand(cmd)
}

// pause holds new transactions of db (of all databases when db is "") back
// and waits, up to PauseDrainWait, for the running ones to end.
func (a *adminSession) pause(ctx context.Context, db string, w server.ResultWriter) error {
	a.co.admin.pause.pause(db)
	a.co.Logger.Info("admin console: pause", "database", db, "user", a.user)
	deadline := time.NewTimer(PauseDrainWait)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		running := a.co.runningTx(db)
		if len(running) == 0 {
			return w.CommandComplete("PAUSE")
		}
		select {
		case <-ctx.Done():
			return &pgconn.PgError{Severity: "ERROR", Code: pgerr.QueryCanceled, Message: "canceling statement due to user request",
				Detail: "The pause stays in effect; RESUME lifts it."}
		case <-deadline.C:
			var names []string
			for _, c := range running {
				names = append(names, fmt.Sprintf("client %d (user %s, database %s, %s)", c.id, c.user, c.db, c.stateName()))
			}
			w.Notice(&pgproto3.NoticeResponse{Severity: "WARNING", SeverityUnlocalized: "WARNING", Code: pgerr.Warning,
				Message: fmt.Sprintf("paused, but %d transactions still run after %s", len(running), PauseDrainWait),
				Detail:  "Still running: " + strings.Join(names, ", ") + ".", Hint: "KILL_CLIENT ends one."})
			return w.CommandComplete("PAUSE")
		case <-tick.C:
		}
	}
}

// killClient ends a client's connection (FATAL 57P01) and waits, briefly,
// for its session to have closed: its transaction rolled back, its
// backends given back.
func (a *adminSession) killClient(ctx context.Context, id uint64, w server.ResultWriter) error {
	v, ok := a.co.admin.clients.Load(id)
	if !ok {
		return pgerr.New(pgerr.UndefinedObject, "no client with id %d", id)
	}
	cl := v.(*client)
	if cl.terminate == nil {
		return pgerr.Unsupported("client %d cannot be ended from here", id)
	}
	a.co.Logger.Info("admin console: kill client", "client", id, "client_user", cl.user, "database", cl.db, "user", a.user)
	cl.terminate()
	cl.Cancel()
	ctx, cancel := context.WithTimeout(ctx, adminLookupWait)
	defer cancel()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, ok := a.co.admin.clients.Load(id); !ok {
			break
		}
		select {
		case <-ctx.Done():
			return w.CommandComplete("KILL_CLIENT")
		case <-tick.C:
		}
	}
	return w.CommandComplete("KILL_CLIENT")
}

// ---- SHOW ----

// adminCol is a column of a console result.
type adminCol struct {
	name string
	oid  uint32
}

const (
	oidBool        = 16
	oidInt8        = 20
	oidInt4        = 23
	oidText        = 25
	oidTimestamptz = 1184
)

func textCols(names ...string) []adminCol {
	out := make([]adminCol, len(names))
	for i, n := range names {
		out[i] = adminCol{n, oidText}
	}
	return out
}

// writeResult sends a console result: nil is NULL; numbers, booleans,
// times and durations (as microseconds) are printed as PostgreSQL prints them.
func writeResult(w server.ResultWriter, tag string, cols []adminCol, rows [][]any) error {
	fields := make([]pgproto3.FieldDescription, len(cols))
	for i, c := range cols {
		size := int16(-1)
		switch c.oid {
		case oidBool:
			size = 1
		case oidInt4:
			size = 4
		case oidInt8, oidTimestamptz:
			size = 8
		}
		fields[i] = pgproto3.FieldDescription{Name: []byte(c.name), DataTypeOID: c.oid, DataTypeSize: size, TypeModifier: -1}
	}
	if err := w.RowDescription(fields); err != nil {
		return err
	}
	for _, r := range rows {
		vals := make([][]byte, len(r))
		for i, v := range r {
			vals[i] = formatValue(v)
		}
		if err := w.DataRow(vals); err != nil {
			return err
		}
	}
	return w.CommandComplete(tag)
}

func formatValue(v any) []byte {
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		return []byte(x)
	case bool:
		if x {
			return []byte("t")
		}
		return []byte("f")
	case int:
		return strconv.AppendInt(nil, int64(x), 10)
	case int32:
		return strconv.AppendInt(nil, int64(x), 10)
	case int64:
		return strconv.AppendInt(nil, x, 10)
	case uint32:
		return strconv.AppendUint(nil, uint64(x), 10)
	case uint64:
		return strconv.AppendUint(nil, x, 10)
	case time.Duration:
		return strconv.AppendInt(nil, micros(x), 10)
	case time.Time:
		if x.IsZero() {
			return nil
		}
		return []byte(x.UTC().Format("2006-01-02 15:04:05.999999") + "+00")
	}
	return []byte(fmt.Sprint(v))
}

// show runs SHOW what.
func (a *adminSession) show(ctx context.Context, what string, w server.ResultWriter) error {
	switch what {
	case "HELP":
		if err := w.Notice(&pgproto3.NoticeResponse{Severity: "NOTICE", SeverityUnlocalized: "NOTICE", Code: "00000", Message: adminHelp}); err != nil {
			return err
		}
		return w.CommandComplete("SHOW")
	case "POOLS":
		return a.showPools(w)
	case "CLIENTS":
		return a.showClients(w)
	case "SERVERS":
		return a.showServers(w)
	case "STATS":
		return a.showStats(w)
	case "NODES":
		return a.showNodes(ctx, w)
	case "CONFIG":
		return a.showConfig(w)
	case "VERSION":
		return a.showVersion(ctx, w)
	}
	return pgerr.Unsupported("unsupported SHOW command '%s', use SHOW HELP;", what)
}

// showPools: one row per pool (datanode, database, user).
func (a *adminSession) showPools(w server.ResultWriter) error {
	clActive := map[pooler.Key]int{}
	for _, c := range a.co.clientList() {
		for _, n := range c.heldNodes() {
			clActive[pooler.Key{Node: n, Database: c.db, User: c.user}]++
		}
	}
	cols := append(textCols("database", "user", "node"),
		adminCol{"cl_active", oidInt4}, adminCol{"cl_waiting", oidInt4}, adminCol{"sv_active", oidInt4}, adminCol{"sv_idle", oidInt4},
		adminCol{"sv_open", oidInt4}, adminCol{"total_lent", oidInt8}, adminCol{"total_waits", oidInt8}, adminCol{"total_connects", oidInt8},
		adminCol{"maxwait", oidInt4}, adminCol{"maxwait_us", oidInt4}, adminCol{"pool_mode", oidText})
	var rows [][]any
	for _, k := range a.co.Pool.KeyStats() {
		rows = append(rows, []any{k.Database, k.User, k.Node, clActive[k.Key], k.Waiting, k.Active, k.Idle, k.Open,
			k.Gets, k.Waits, k.Connects, int(k.MaxWait / time.Second), int((k.MaxWait % time.Second) / time.Microsecond), "transaction"})
	}
	return writeResult(w, "SHOW", cols, rows)
}

// showClients: one row per client session.
func (a *adminSession) showClients(w server.ResultWriter) error {
	cols := []adminCol{{"type", oidText}, {"id", oidInt8}, {"user", oidText}, {"database", oidText}, {"state", oidText},
		{"addr", oidText}, {"port", oidInt4}, {"connect_time", oidTimestamptz}, {"request_time", oidTimestamptz},
		{"application_name", oidText}, {"datanodes", oidText}}
	var rows [][]any
	for _, c := range a.co.clientList() {
		host, port := splitAddr(c.addr)
		var req any
		if ns := c.request.Load(); ns != 0 {
			req = time.Unix(0, ns)
		}
		rows = append(rows, []any{"C", c.id, c.user, c.db, c.stateName(), host, port, c.connected, req, c.appName,
			strings.Join(c.heldNodes(), ",")})
	}
	return writeResult(w, "SHOW", cols, rows)
}

// splitAddr is a client's address and port; "unix" and nil for a Unix socket.
func splitAddr(addr net.Addr) (string, any) {
	if addr == nil {
		return "unix", nil
	}
	if addr.Network() == "unix" {
		return "unix", nil
	}
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String(), nil
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return host, nil
	}
	return host, p
}

func addrString(addr net.Addr) string {
	if addr == nil {
		return "[local]"
	}
	return addr.String()
}

// showServers: the datanode backends the clients hold, then the idle ones
// of the pool.
func (a *adminSession) showServers(w server.ResultWriter) error {
	cols := []adminCol{{"type", oidText}, {"user", oidText}, {"database", oidText}, {"node", oidText}, {"state", oidText},
		{"addr", oidText}, {"port", oidInt4}, {"connect_time", oidTimestamptz}, {"idle_since", oidTimestamptz},
		{"remote_pid", oidInt4}, {"session_id", oidInt8}}
	addr := func(node string) (any, any) {
		n, ok := a.co.Nodes.Node(node)
		if !ok {
			return nil, nil
		}
		return n.Host, n.Port
	}
	var rows [][]any
	for _, c := range a.co.clientList() {
		c.session.mu.Lock()
		for node, conn := range c.session.conns {
			host, port := addr(node)
			rows = append(rows, []any{"S", conn.Key.User, conn.Key.Database, node, "active", host, port, conn.ConnectedAt(), nil, conn.PID(), c.id})
		}
		c.session.mu.Unlock()
	}
	for _, ic := range a.co.Pool.IdleConns() {
		host, port := addr(ic.Node)
		rows = append(rows, []any{"S", ic.User, ic.Database, ic.Node, "idle", host, port, ic.Connected, ic.IdleSince, ic.PID, nil})
	}
	return writeResult(w, "SHOW", cols, rows)
}

// showStats: per database, the clients' totals since the coordinator
// started; the wait time is at PAUSEs and for pooled backends.
func (a *adminSession) showStats(w server.ResultWriter) error {
	poolWait := map[string]time.Duration{}
	for _, k := range a.co.Pool.KeyStats() {
		poolWait[k.Database] += k.WaitTime
	}
	cols := append(textCols("database"), adminCol{"total_xact_count", oidInt8}, adminCol{"total_query_count", oidInt8},
		adminCol{"total_received", oidInt8}, adminCol{"total_sent", oidInt8}, adminCol{"total_xact_time", oidInt8},
		adminCol{"total_query_time", oidInt8}, adminCol{"total_wait_time", oidInt8})
	var rows [][]any
	for _, st := range a.co.Stats() {
		rows = append(rows, []any{st.Database, st.Xacts, st.Queries, st.Received, st.Sent, st.XactTime, st.QueryTime, st.WaitTime + poolWait[st.Database]})
	}
	return writeResult(w, "SHOW", cols, rows)
}

// showNodes: pgxc_node's rows, whether each node answers now, and the
// pool's connections to each datanode.
func (a *adminSession) showNodes(ctx context.Context, w server.ResultWriter) error {
	nodes := a.co.Nodes.Nodes()
	slices.SortFunc(nodes, func(x, y catalog.Node) int {
		if x.Type != y.Type {
			return strings.Compare(x.Type, y.Type)
		}
		return strings.Compare(x.Name, y.Name)
	})
	answers := make([]bool, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		if n.Name == a.co.Name {
			answers[i] = true
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i] = probe(ctx, addrOf(n.Host, n.Port), 2*time.Second) == nil
		}()
	}
	wg.Wait()
	type poolSum struct{ open, idle, active int }
	pools := map[string]*poolSum{}
	for _, k := range a.co.Pool.KeyStats() {
		p := pools[k.Node]
		if p == nil {
			p = &poolSum{}
			pools[k.Node] = p
		}
		p.open += k.Open
		p.idle += k.Idle
		p.active += k.Active
	}
	cols := []adminCol{{"node_name", oidText}, {"node_type", oidText}, {"node_host", oidText}, {"node_port", oidInt4},
		{"nodeis_primary", oidBool}, {"nodeis_preferred", oidBool}, {"node_id", oidInt4}, {"answers", oidBool},
		{"failing_over", oidBool}, {"sv_open", oidInt4}, {"sv_idle", oidInt4}, {"sv_active", oidInt4}}
	var rows [][]any
	for i, n := range nodes {
		row := []any{n.Name, n.Type, n.Host, n.Port, n.Primary, n.Preferred, n.ID(), answers[i], nil, nil, nil, nil}
		if n.IsDatanode() {
			row[8] = a.co.lost(n.Name)
			p := pools[n.Name]
			if p == nil {
				p = &poolSum{}
			}
			row[9], row[10], row[11] = p.open, p.idle, p.active
		}
		rows = append(rows, row)
	}
	return writeResult(w, "SHOW", cols, rows)
}

// showConfig: the coordinator's settings (Config's), then the pool's
// present sizes and the console's own.
func (a *adminSession) showConfig(w server.ResultWriter) error {
	var pairs [][2]string
	if a.co.Config != nil {
		pairs = a.co.Config()
	}
	l := a.co.Pool.Limits()
	for _, kv := range [][2]string{
		{"name", a.co.Name},
		{"cluster_name", a.co.ClusterName},
		{"pool_max_per_key", strconv.Itoa(l.MaxPerKey)},
		{"pool_max_idle_per_key", strconv.Itoa(l.MaxIdlePerKey)},
		{"pool_idle_timeout", l.IdleTimeout.String()},
		{"pool_wait_timeout", l.WaitTimeout.String()},
		{"pool_mode", "transaction"},
		{"admin_users", strings.Join(a.co.AdminUsers, ",")},
		{"paused", strings.Join(a.co.admin.pause.pausedNames(), ",")},
	} {
		if !slices.ContainsFunc(pairs, func(p [2]string) bool { return p[0] == kv[0] }) {
			pairs = append(pairs, kv)
		}
	}
	rows := make([][]any, len(pairs))
	for i, p := range pairs {
		rows[i] = []any{p[0], p[1]}
	}
	return writeResult(w, "SHOW", textCols("key", "value"), rows)
}

// showVersion: xlgo's version, then each datanode's server_version.
func (a *adminSession) showVersion(ctx context.Context, w server.ResultWriter) error {
	dns := a.co.Nodes.Datanodes()
	versions := make([]any, len(dns))
	errs := make([]error, len(dns))
	ctx, cancel := context.WithTimeout(ctx, adminLookupWait)
	defer cancel()
	var wg sync.WaitGroup
	for i, n := range dns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := a.co.Pool.Get(ctx, pooler.Key{Node: n.Name, Database: "postgres", User: a.user}, "")
			if err != nil {
				errs[i] = err
				return
			}
			versions[i] = conn.ParameterStatus("server_version")
			a.co.Pool.Put(conn)
		}()
	}
	wg.Wait()
	rows := [][]any{{a.co.Name, "xlgo " + Version}}
	for i, n := range dns {
		if errs[i] != nil {
			w.Notice(&pgproto3.NoticeResponse{Severity: "WARNING", SeverityUnlocalized: "WARNING", Code: pgerr.Warning,
				Message: fmt.Sprintf("datanode %s: %v", n.Name, errs[i])})
		}
		rows = append(rows, []any{n.Name, versions[i]})
	}
	return writeResult(w, "SHOW", textCols("node_name", "version"), rows)
}
