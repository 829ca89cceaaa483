package engine

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/xlgo/xlgo/catalog"
	"github.com/xlgo/xlgo/gtmclient"
	"github.com/xlgo/xlgo/pgerr"
	"github.com/xlgo/xlgo/planner"
	"github.com/xlgo/xlgo/pooler"
	"github.com/xlgo/xlgo/server"
	"github.com/xlgo/xlgo/txn"
)

// Version is xlgo's version, shown in server_version.
const Version = "0.1.0"

// Coordinator is the statement engine of one coordinator: it makes the
// sessions and holds what they share (node catalog, table catalog cache,
// backend pool, GTM client).
type Coordinator struct {
	Name        string
	ClusterName string
	Nodes       *catalog.NodeStore
	Cache       *catalog.Cache
	Pool        *pooler.Pool
	GTM         *gtmclient.Client
	Logger      *slog.Logger
	// Failpoint, when set, is called at the named steps of two-phase commit
	// (tests set it through XLGO_FAILPOINT).
	Failpoint func(step string)
	// SeqCache hands out values of global sequences from ranges taken from the GTM.
	SeqCache *gtmclient.SeqCache
	// ReadGateWait, CommitGateWait and CommitPreparedWait bound the waits at
	// the snapshot gate and of COMMIT PREPARED (0: DefaultReadGateWait ...).
	ReadGateWait, CommitGateWait, CommitPreparedWait time.Duration
	// ResolveSoon, when set, asks the coordinator's resolver for a pass now:
	// a commit left the rest of its work to it.
	ResolveSoon func()
	// ApplyCommit, when set, commits a decided prepared transaction on
	// datanodes through connections of its own (the resolver's): a commit
	// whose COMMIT PREPARED failed on some datanode finishes with it while it
	// holds the snapshot gate (txn.Manager.Apply).
	ApplyCommit func(ctx context.Context, gid string, nodes []string) error
	// GTMWait bounds each call of a commit to the GTM (0: txn.DefaultGTMWait).
	GTMWait   time.Duration
	txnOnce   sync.Once
	txn       *txn.Manager
	sessions  atomic.Int64
	nextID    atomic.Uint64
	registry  sync.Map // session id -> *session
	typeNames sync.Map // type OID -> SQL name, for built-in types
	// statements holds the route templates of statements, for every session.
	statements planner.StatementCache
	// failover is the automatic failover of datanodes (StartFailover), or nil.
	failover *failoverMonitor
	// described keeps prepared statements' descriptions by text, for every session.
	described      sync.Map
	describedCount atomic.Int64
	// moves are the redistributions running here, by table (moveStatus).
	moves sync.Map
	// Metrics are the coordinator's Prometheus metrics.
	Metrics *Metrics
	// AdminUsers may use the admin console besides the superusers.
	AdminUsers []string
	// Config, when set, lists the coordinator's settings for SHOW CONFIG.
	Config func() [][2]string
	// Reload, when set, reads the coordinator's settings again and puts
	// them in force (SIGHUP, the admin console's RELOAD).
	Reload func() error
	// Shutdown, when set, stops the coordinator (SIGTERM, SIGINT, the admin
	// console's SHUTDOWN): gracefully (running transactions finish first)
	// or fast. It returns at once; the stop goes on on its own goroutine.
	Shutdown func(graceful bool)
	// admin is what the admin console keeps of the clients.
	admin adminState
	// logMinDuration: statements that run this long are logged (<0: none).
	logMinDuration atomic.Int64
}

// SetLogMinDuration sets the threshold of slow-statement logging (<0: off;
// 0: every statement).
func (c *Coordinator) SetLogMinDuration(d time.Duration) { c.logMinDuration.Store(int64(d)) }

// NewCoordinator wires a coordinator's parts together.
func NewCoordinator(name, clusterName string, nodes *catalog.NodeStore, gtm *gtmclient.Client, logger *slog.Logger) *Coordinator {
	c := &Coordinator{Name: name, ClusterName: clusterName, Nodes: nodes, Cache: catalog.NewCache(), GTM: gtm, Logger: logger}
	c.Pool = pooler.New(func(node string) (string, int, bool) {
		n, ok := nodes.Node(node)
		if !ok || !n.IsDatanode() {
			return "", 0, false
		}
		return n.Host, n.Port, true
	}, pooler.Options{AppName: "xlgo " + name, Logger: logger})
	if gtm != nil {
		c.SeqCache = gtmclient.NewSeqCache(gtm, 0)
		gtm.WatchCatalog(func(epoch uint64) {
			c.Cache.Invalidate()
			logger.Debug("catalog changed", "epoch", epoch)
		})
		gtm.WatchFences(func(epoch uint64) {
			c.drainCatalog(c.Cache.Generation())
		})
	}
	c.Metrics = newMetrics(c)
	c.logMinDuration.Store(-1)
	if fp := os.Getenv("XLGO_FAILPOINT"); fp != "" {
		c.Failpoint = failpointFromEnv(fp, os.Getenv("XLGO_FAILPOINT_DIR"), logger)
	}
	return c
}

// failpointFromEnv builds the failpoint hook of XLGO_FAILPOINT, a
// comma-separated list of STEP, STEP:exit or STEP:pause (the steps of a
// commit are txn's: before-prepare, prepare:NODE, prepared:NODE,
// after-decision, commit-prepared:NODE, committed:NODE; a move's are
// move-copy, in a bucket copy, and move-catchup, before its first catch-up).
// exit ends the process
// at once (status 3); pause creates the file DIR/failpoint-STEP (DIR is
// XLGO_FAILPOINT_DIR, else the temporary directory) and waits until something
// removes it, so that a test can act on the cluster at that very step;
// pauseonce pauses the first time only.
func failpointFromEnv(spec, dir string, logger *slog.Logger) func(step string) {
	if dir == "" {
		dir = os.TempDir()
	}
	actions := map[string]string{}
	for _, item := range strings.Split(spec, ",") {
		// A step may hold a colon itself (prepared:datanode1): the action
		// is what follows the last one, when it is one.
		step, action := strings.TrimSpace(item), ""
		if i := strings.LastIndex(step, ":"); i >= 0 && (step[i+1:] == "exit" || step[i+1:] == "pause" || step[i+1:] == "pauseonce") {
			step, action = step[:i], step[i+1:]
		}
		if step == "" {
			continue
		}
		switch action {
		case "", "exit":
			actions[step] = "exit"
		case "pause", "pauseonce":
			actions[step] = action
		default:
			logger.Error("XLGO_FAILPOINT: unknown action, want exit or pause", "step", step, "action", action)
		}
	}
	var mu sync.Mutex
	return func(step string) {
		mu.Lock()
		action := actions[step]
		if action == "pauseonce" {
			actions[step] = "" // the next time goes on
			action = "pause"
		}
		mu.Unlock()
		switch action {
		case "exit":
			logger.Warn("failpoint reached: exiting", "step", step)
			os.Exit(3)
		case "pause":
			path := filepath.Join(dir, "failpoint-"+step)
			if err := os.WriteFile(path, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
				logger.Error("failpoint: cannot create its file; going on", "step", step, "err", err)
				return
			}
			logger.Warn("failpoint reached: paused until its file is removed", "step", step, "file", path)
			for {
				if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			logger.Warn("failpoint released", "step", step)
		}
	}
}

// txnManager is the coordinator's transaction manager, made once its
// fields are set.
func (c *Coordinator) txnManager() *txn.Manager {
	c.txnOnce.Do(func() {
		c.txn = &txn.Manager{ClusterName: c.ClusterName, GateWait: c.CommitGateWait, CommitWait: c.CommitPreparedWait,
			GTMWait: c.GTMWait, Failpoint: c.Failpoint, ResolveSoon: c.resolveSoon, Apply: c.ApplyCommit, Log: c.Logger,
			GateWaited: func(d time.Duration) { c.Metrics.gateWait[gateCommit].Observe(d.Seconds()) }}
		if c.GTM != nil {
			c.txn.GTM = c.GTM
		}
	})
	return c.txn
}

func (c *Coordinator) resolveSoon() {
	if c.ResolveSoon != nil {
		c.ResolveSoon()
	}
}

// catalogFresh tells whether cached catalogs can be trusted: only while the
// GTM subscription that invalidates them is live.
func (c *Coordinator) catalogFresh() bool {
	return c.GTM != nil && c.GTM.Connected()
}

// StartupWait bounds a new session's round trips to the preferred datanode
// (its parameters, its search path and statement_timeout).
const StartupWait = 10 * time.Second

// NewSession implements Engine.
func (c *Coordinator) NewSession(ctx context.Context, st server.Startup) (server.Session, []server.ParamStatus, error) {
	if st.Database == AdminDatabase {
		return c.newAdminSession(ctx, st)
	}
	s := &session{
		co:       c,
		user:     st.User,
		db:       st.Database,
		conns:    map[string]*pooler.Conn{},
		stmts:    map[string]*preparedStmt{},
		seqNames: map[string]string{},
		lastSeq:  map[string]int64{},
		portals:  map[string]*portal{},
		id:       c.nextID.Add(1),
	}
	s.log = c.Logger.With("session", s.id, "user", st.User, "database", st.Database)
	s.appName = st.Params["application_name"]
	for k, v := range st.Params {
		switch k {
		case "user", "database", "replication":
		case "options":
			s.startupSets = append(s.startupSets, parseOptions(v)...)
		default:
			s.startupSets = append(s.startupSets, fmt.Sprintf("SET %s = %s", quoteIdentLower(k), quoteLiteral(v)))
		}
	}
	sort.Strings(s.startupSets) // the same settings, the same backends
	s.sets = append([]string(nil), s.startupSets...)
	params := startupParams(st, false)
	// The session's parameters, search path and statement_timeout come from
	// the preferred datanode, or, when it cannot be reached (lost, failing
	// over), from the next datanode that answers: every datanode holds the
	// roles, databases and settings.
	var err error
	for _, node := range c.startupNodes() {
		if err = s.startupOn(ctx, node, params); err == nil || !unreachableErr(err) {
			break
		}
		s.log.Warn("datanode unreachable at session start; trying the next", "datanode", node, "err", err)
	}
	if err != nil {
		s.Close()
		return nil, nil, err
	}
	c.sessions.Add(1)
	c.registry.Store(s.id, s)
	return c.newClient(s, st), params, nil
}

// startupParams are the ParameterStatus messages a new session gets (a
// normal one takes their values from a datanode after).
func startupParams(st server.Startup, superuser bool) []server.ParamStatus {
	onOff := map[bool]string{true: "on", false: "off"}
	return []server.ParamStatus{
		{Name: "server_version", Value: "15 (xlgo " + Version + ")"},
		{Name: "server_encoding", Value: "UTF8"},
		{Name: "client_encoding", Value: "UTF8"},
		{Name: "DateStyle", Value: "ISO, MDY"},
		{Name: "integer_datetimes", Value: "on"},
		{Name: "standard_conforming_strings", Value: "on"},
		{Name: "IntervalStyle", Value: "postgres"},
		{Name: "TimeZone", Value: "UTC"},
		{Name: "is_superuser", Value: onOff[superuser]},
		{Name: "session_authorization", Value: st.User},
		{Name: "application_name", Value: st.Params["application_name"]},
	}
}

// startupNodes are the datanodes a new session may start on: the preferred
// one first.
func (c *Coordinator) startupNodes() []string {
	var out []string
	if node, ok := c.Nodes.PreferredDatanode(); ok {
		out = append(out, node.Name)
	}
	for _, n := range c.Nodes.Datanodes() {
		if len(out) == 0 || n.Name != out[0] {
			out = append(out, n.Name)
		}
	}
	return out
}

// startupOn takes a new session's parameters from datanode node, bounded:
// a datanode that does not answer fails the attempt, it does not hold it.
func (s *session) startupOn(ctx context.Context, node string, params []server.ParamStatus) error {
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, StartupWait)
	defer cancel()
	startupErr := func(err error) error {
		if ctx.Err() != nil && parent.Err() == nil {
			return pgerr.New(pgerr.ConnectionFailure, "datanode %s did not answer within %s: %v", node, StartupWait, err)
		}
		return err
	}
	conn, err := s.conn(ctx, node)
	if err != nil {
		return startupErr(err)
	}
	for i, p := range params {
		if v := conn.ParameterStatus(p.Name); v != "" {
			if p.Name == "server_version" {
				v += " (xlgo " + Version + ")"
			}
			params[i].Value = v
		}
	}
	s.home = node
	if err := s.refreshSearchPath(ctx); err != nil {
		s.releaseConns()
		return startupErr(err)
	}
	s.releaseConns()
	return nil
}

// unreachableErr tells whether err means a datanode could not be reached
// or cannot take connections now (SQLSTATE class 08, 57P03), as opposed to
// a refusal any datanode would give (no such database or role).
func unreachableErr(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return true
	}
	return strings.HasPrefix(pe.Code, "08") || pe.Code == pgerr.CannotConnectNow
}

// parseOptions turns a startup "options" value ("-c a=b --c=d") into SETs.
func parseOptions(v string) []string {
	var out []string
	f := strings.Fields(v)
	for i := 0; i < len(f); i++ {
		kv := ""
		switch {
		case f[i] == "-c" && i+1 < len(f):
			kv = f[i+1]
			i++
		case strings.HasPrefix(f[i], "-c"):
			kv = f[i][2:]
		case strings.HasPrefix(f[i], "--"):
			kv = f[i][2:]
		}
		if k, val, ok := strings.Cut(kv, "="); ok {
			out = append(out, fmt.Sprintf("SET %s = %s", quoteIdentLower(strings.ReplaceAll(k, "-", "_")), quoteLiteral(val)))
		}
	}
	return out
}

func quoteIdentLower(s string) string { return quoteIdent(strings.ToLower(s)) }

// BackendInfo is one datanode backend a session holds now.
type BackendInfo struct {
	Session uint64
	Node    string
	PID     uint32
}

// Backends lists the datanode backends the coordinator's sessions hold
// (a deadlock detector maps datanode lock waits to sessions with it).
func (c *Coordinator) Backends() []BackendInfo {
	var out []BackendInfo
	c.registry.Range(func(_, v any) bool {
		s := v.(*session)
		s.mu.Lock()
		for node, conn := range s.conns {
			out = append(out, BackendInfo{Session: s.id, Node: node, PID: conn.PID()})
		}
		s.mu.Unlock()
		return true
	})
	return out
}

// CancelForDeadlock cancels what a session runs now; it gets SQLSTATE 40P01.
func (c *Coordinator) CancelForDeadlock(id uint64) bool {
	v, ok := c.registry.Load(id)
	if !ok {
		return false
	}
	s := v.(*session)
	if s.mover {
		// Every wait of a move is bounded by its own lock timeout, after
		// which it lets go and tries again: the cycle breaks without it.
		return false
	}
	s.deadlockVictim.Store(true)
	s.cancelBusy(true)
	c.Metrics.deadlocks.Inc()
	return true
}
