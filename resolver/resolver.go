package resolver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/user"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/xlgo/xlgo/gtmclient"
	"github.com/xlgo/xlgo/pgerr"
)

// DefaultGrace is how old an undecided prepared transaction must be before
// the resolver aborts it: younger ones may belong to a commit still running.
const DefaultGrace = 10 * time.Second

// DefaultAbortRetention is how long the resolver keeps an abort decision it
// logged after the transaction is rolled back everywhere it was seen.
const DefaultAbortRetention = 10 * time.Minute

// GTM is what the resolver needs of the GTM (a *gtmclient.Client).
type GTM interface {
	LogDecision(ctx context.Context, gid string, participants []string, commit bool) error
	Decision(ctx context.Context, gid string) (gtmclient.DecisionState, error)
	ListDecisions(ctx context.Context) ([]gtmclient.Decision, error)
	Forget(ctx context.Context, gid string) error
}

// gate is the snapshot gate of a GTM (a *gtmclient.Client has it): the
// resolver applies a commit on several datanodes while it holds the gate, so
// that no read of several datanodes sees it half applied.
type gate interface {
	GateEnter(ctx context.Context, kind gtmclient.GateKind) (release func(), err error)
}

// DefaultGateWait bounds the resolver's wait for the snapshot gate before it
// applies a commit on several datanodes; past it the commit is applied all
// the same (a reader may be waiting for the locks the prepared transaction
// holds).
const DefaultGateWait = 10 * time.Second

// Datanode is a datanode the resolver scans.
type Datanode struct {
	Name string
	Host string
	Port int
}

// InDoubt is one prepared transaction of this cluster on one datanode.
type InDoubt struct {
	GID      string
	Node     string
	Database string
	Owner    string
	Age      time.Duration // since PREPARE TRANSACTION, by the datanode's clock
	// Decision is the GTM's decision for GID; DecisionErr is set when the GTM
	// could not be asked.
	Decision    gtmclient.DecisionState
	DecisionErr error
}

// Outcome is what the resolver did with one prepared transaction.
type Outcome string

// Outcomes.
const (
	DidCommit   Outcome = "committed"        // COMMIT PREPARED ran
	DidRollback Outcome = "rolled back"      // ROLLBACK PREPARED ran
	DidNothing  Outcome = "already finished" // someone else finished it meanwhile
	Waiting     Outcome = "waiting"          // undecided and younger than the grace period
	Busy        Outcome = "busy"             // another session is finishing it right now
	Failed      Outcome = "failed"           // see Action.Err; a later run retries
	// Deferred: committed, but a participant could not be scanned, or the
	// snapshot gate could not be had for a commit prepared everywhere; a
	// later run applies it.
	Deferred Outcome = "deferred"
)

// Action is the resolver's handling of one prepared transaction on one datanode.
type Action struct {
	InDoubt
	Outcome Outcome
	// LoggedAbort tells that this run logged the abort decision at the GTM.
	LoggedAbort bool
	Err         error
}

// Report is what one run found and did.
type Report struct {
	Actions []Action
	// Forgotten are the gids whose decisions the GTM was told to forget.
	Forgotten []string
	// Problems are datanodes that could not be scanned and GTM calls that
	// failed; the affected transactions are retried by a later run.
	Problems []error
}

// Resolver finishes the in-doubt transactions of one cluster. Several
// resolvers (one per coordinator, xlctl) may act on the same gids at the same
// time: every step is idempotent and the GTM's first-decision-wins rule
// settles every race between a commit and an abort.
type Resolver struct {
	// GTM holds the decision log; nil only for listing (InDoubt).
	GTM GTM
	// Datanodes lists the datanodes to scan.
	Datanodes func() []Datanode
	// ClusterName makes the gid prefix xlgo_<cluster>_.
	ClusterName string
	// User is the role the resolver connects to datanodes as; it must be
	// allowed to finish other roles' prepared transactions (a superuser).
	User string
	// Grace is how old an undecided prepared transaction must be before it is
	// aborted; New sets DefaultGrace, 0 acts at once.
	Grace time.Duration
	// AbortRetention is how long an abort decision is kept once nothing is
	// prepared under its gid, so that a coordinator stalled in the middle of
	// that commit still finds it and rolls back (a forgotten abort would let
	// it log a commit). New sets DefaultAbortRetention.
	AbortRetention time.Duration
	// Timeout bounds each datanode operation (default 15s).
	Timeout time.Duration
	// GateWait bounds the wait for the snapshot gate (default DefaultGateWait).
	GateWait time.Duration
	Logger   *slog.Logger
	// OnReport, when set, is given the report of each pass of Run.
	OnReport func(Report)

	kick     chan struct{} // a pass is asked for (Kick)
	kickOnce sync.Once

	mu        sync.Mutex
	abortSeen map[string]time.Time // abort decisions found finished, since when
}

// New returns a resolver with the default grace period and abort retention.
// User "" means $PGUSER, else the OS user.
func New(gtm GTM, datanodes func() []Datanode, clusterName, user string, logger *slog.Logger) *Resolver {
	if user == "" {
		user = DefaultUser()
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Resolver{GTM: gtm, Datanodes: datanodes, ClusterName: clusterName, User: user,
		Grace: DefaultGrace, AbortRetention: DefaultAbortRetention, Logger: logger}
}

// DefaultUser is $PGUSER when set, else the OS user running the process.
func DefaultUser() string {
	if u := lookupEnv("PGUSER"); u != "" {
		return u
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "postgres"
}

// Prefix is the gid prefix of the cluster's distributed transactions.
func (r *Resolver) Prefix() string { return "xlgo_" + r.ClusterName + "_" }

func (r *Resolver) logger() *slog.Logger {
	if r.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.Logger
}

func (r *Resolver) timeout() time.Duration {
	if r.Timeout > 0 {
		return r.Timeout
	}
	return 15 * time.Second
}

func (r *Resolver) kicks() chan struct{} {
	r.kickOnce.Do(func() { r.kick = make(chan struct{}, 1) })
	return r.kick
}

// kickLater asks Run for a pass after d.
func (r *Resolver) kickLater(d time.Duration) { time.AfterFunc(d, r.Kick) }

// Kick asks Run for a pass now (a coordinator left a decided commit to the
// resolver); it never waits.
func (r *Resolver) Kick() {
	select {
	case r.kicks() <- struct{}{}:
	default:
	}
}

// Run resolves at once and then every interval, and when kicked, until ctx
// ends; interval <= 0 means only once.
func (r *Resolver) Run(ctx context.Context, interval time.Duration) {
	for {
		rep, err := r.RunOnce(ctx)
		if err != nil && ctx.Err() == nil {
			r.logger().Warn("in-doubt resolution failed; will retry", "err", err)
		}
		if r.OnReport != nil && err == nil {
			r.OnReport(rep)
		}
		if interval <= 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		case <-r.kicks():
		}
	}
}

// enterGate takes the snapshot gate as a committer to apply a commit on
// several datanodes (those it is prepared on, and its participants as the
// decision names them: a participant the scan could not reach may hold it
// prepared still). ok is false when the gate could not be had within
// GateWait (or there is none): the caller then applies the commit without
// it only if it is half applied already (a reader sees that either way),
// and otherwise leaves it prepared everywhere, which every reader sees
// alike, for a later run.
func (r *Resolver) enterGate(ctx context.Context, gid string, entries []InDoubt, participants []string, commit bool) (release func(), ok bool) {
	g, isGate := r.GTM.(gate)
	nodes := map[string]bool{}
	for _, e := range entries {
		nodes[e.Node] = true
	}
	for _, p := range participants {
		nodes[p] = true
	}
	if !commit || len(nodes) < 2 {
		return func() {}, true
	}
	if !isGate {
		return func() {}, false
	}
	wait := r.GateWait
	if wait <= 0 {
		wait = DefaultGateWait
	}
	gctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	release, err := g.GateEnter(gctx, gtmclient.GateCommitter)
	if err != nil {
		r.logger().Warn("the snapshot gate cannot be had for an in-doubt commit", "gid", gid, "err", err)
		return func() {}, false
	}
	return release, true
}

// untouched tells whether a commit is still prepared on every participant
// the decision names: nothing of it is visible yet.
func untouched(entries []InDoubt, participants []string) bool {
	if len(participants) == 0 {
		return false
	}
	for _, p := range participants {
		if !slices.ContainsFunc(entries, func(e InDoubt) bool { return e.Node == p }) {
			return false
		}
	}
	return true
}

// RunOnce scans every datanode once and finishes each prepared transaction
// of the cluster by the GTM's decision: committed -> COMMIT PREPARED (under
// the snapshot gate, and only once every participant can be scanned);
// aborted -> ROLLBACK PREPARED; none and older than the grace period -> an
// abort decision is logged first (a commit logged before it wins, and is then
// carried out). Decisions whose participants hold nothing prepared any more
// are forgotten. It fails only when the GTM cannot list its decisions; a
// datanode that cannot be reached is reported in Report.Problems.
func (r *Resolver) RunOnce(ctx context.Context) (Report, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var rep Report
	if r.GTM == nil {
		return rep, errors.New("resolver: no GTM")
	}
	// Decisions are listed before the scan: a decision listed here was
	// logged after all its participants prepared, so a participant that
	// holds nothing in the scan has finished it.
	decisions, err := r.GTM.ListDecisions(ctx)
	if err != nil {
		return rep, fmt.Errorf("list decisions at the gtm: %w", err)
	}
	listed := map[string]gtmclient.Decision{}
	for _, d := range decisions {
		listed[d.GID] = d
	}
	cs := r.newConns()
	defer cs.close()
	found, scanned, problems := r.scan(ctx, cs)
	rep.Problems = append(rep.Problems, problems...)

	done := map[string]map[string]bool{} // gid -> node -> no longer prepared there
	for _, gid := range sortedGIDs(found) {
		entries := found[gid]
		state := gtmclient.Unknown
		if d, ok := listed[gid]; ok {
			state = gtmclient.Aborted
			if d.Commit {
				state = gtmclient.Committed
			}
		}
		loggedAbort := false
		if state == gtmclient.Unknown {
			var age time.Duration
			for _, e := range entries {
				age = max(age, e.Age)
			}
			if age < r.Grace {
				for _, e := range entries {
					rep.Actions = append(rep.Actions, Action{InDoubt: e, Outcome: Waiting})
				}
				continue
			}
			state, loggedAbort, err = r.decideAbort(ctx, gid, entries)
			if err != nil {
				rep.Problems = append(rep.Problems, err)
				for _, e := range entries {
					rep.Actions = append(rep.Actions, Action{InDoubt: e, Outcome: Failed, Err: err})
				}
				continue
			}
		}
		if missing := unscanned(listed[gid].Participants, scanned); state == gtmclient.Committed && len(missing) > 0 {
			// Applied here and not on a participant the scan could not
			// reach (which may hold it prepared still), the commit would be
			// seen half applied once the gate is free: it waits for a run
			// that reaches every participant.
			r.logger().Warn("in-doubt commit deferred: a participant cannot be reached", "gid", gid, "unreached", missing)
			for _, e := range entries {
				e.Decision = state
				rep.Actions = append(rep.Actions, Action{InDoubt: e, Outcome: Deferred})
			}
			continue
		}
		release, gated := r.enterGate(ctx, gid, entries, listed[gid].Participants, state == gtmclient.Committed)
		if !gated && untouched(entries, listed[gid].Participants) {
			// Prepared everywhere, it is invisible alike to every reader;
			// applied without the gate, a reader could see it half applied.
			for _, e := range entries {
				e.Decision = state
				rep.Actions = append(rep.Actions, Action{InDoubt: e, Outcome: Deferred})
			}
			r.kickLater(time.Second)
			continue
		}
		for _, e := range entries {
			e.Decision = state
			a := r.finish(ctx, cs, e, state == gtmclient.Committed)
			a.LoggedAbort = loggedAbort
			rep.Actions = append(rep.Actions, a)
			if a.Outcome == DidCommit || a.Outcome == DidRollback || a.Outcome == DidNothing {
				if done[gid] == nil {
					done[gid] = map[string]bool{}
				}
				done[gid][e.Node] = true
			}
		}
		release()
	}

	// Forget the listed decisions that no participant needs any more.
	now := time.Now()
	for _, d := range decisions {
		finished := true
		for _, p := range d.Participants {
			if !scanned[p] {
				finished = false
				break
			}
			if prepared(found[d.GID], p) && !done[d.GID][p] {
				finished = false
				break
			}
		}
		if !finished {
			delete(r.abortSeen, d.GID)
			continue
		}
		if !d.Commit {
			if r.abortSeen == nil {
				r.abortSeen = map[string]time.Time{}
			}
			first, ok := r.abortSeen[d.GID]
			if !ok {
				r.abortSeen[d.GID] = now
				first = now
			}
			if now.Sub(first) < r.AbortRetention {
				continue
			}
		}
		if err := r.GTM.Forget(ctx, d.GID); err != nil {
			rep.Problems = append(rep.Problems, fmt.Errorf("forget %s at the gtm: %w", d.GID, err))
			continue
		}
		delete(r.abortSeen, d.GID)
		rep.Forgotten = append(rep.Forgotten, d.GID)
		r.logger().Info("decision forgotten", "gid", d.GID, "commit", d.Commit)
	}
	for gid := range r.abortSeen {
		if _, ok := listed[gid]; !ok {
			delete(r.abortSeen, gid)
		}
	}
	return rep, nil
}

// unscanned lists the participants whose datanode the run could not scan.
func unscanned(participants []string, scanned map[string]bool) []string {
	var out []string
	for _, p := range participants {
		if !scanned[p] {
			out = append(out, p)
		}
	}
	return out
}

func prepared(entries []InDoubt, node string) bool {
	for _, e := range entries {
		if e.Node == node {
			return true
		}
	}
	return false
}

// decideAbort logs an abort decision for an undecided gid; if a commit was
// logged first, the transaction is committed instead.
func (r *Resolver) decideAbort(ctx context.Context, gid string, entries []InDoubt) (gtmclient.DecisionState, bool, error) {
	var nodes []string
	for _, e := range entries {
		if !slices.Contains(nodes, e.Node) {
			nodes = append(nodes, e.Node)
		}
	}
	sort.Strings(nodes)
	err := r.GTM.LogDecision(ctx, gid, nodes, false)
	switch {
	case err == nil:
		r.logger().Info("abort decision logged for an undecided prepared transaction", "gid", gid, "nodes", nodes)
		return gtmclient.Aborted, true, nil
	case errors.Is(err, gtmclient.ErrDecisionConflict):
		return gtmclient.Committed, false, nil
	}
	return gtmclient.Unknown, false, fmt.Errorf("log abort decision for %s at the gtm: %w", gid, err)
}

// finish commits or rolls back one prepared transaction on its datanode.
func (r *Resolver) finish(ctx context.Context, cs *conns, e InDoubt, commit bool) Action {
	a := Action{InDoubt: e}
	sql, did := "ROLLBACK PREPARED ", DidRollback
	if commit {
		sql, did = "COMMIT PREPARED ", DidCommit
	}
	err := cs.exec(ctx, e.Node, e.Database, sql+quoteLiteral(e.GID))
	var pe *pgconn.PgError
	switch {
	case err == nil:
		a.Outcome = did
		r.logger().Info("in-doubt transaction "+string(did), "gid", e.GID, "node", e.Node, "database", e.Database)
	case errors.As(err, &pe) && pe.Code == pgerr.UndefinedObject:
		// "prepared transaction with identifier ... does not exist": another
		// resolver or the coordinator finished it since the scan.
		a.Outcome = DidNothing
	case errors.As(err, &pe) && pe.Code == pgerr.ObjectNotInPrerequisiteState:
		a.Outcome, a.Err = Busy, err
	default:
		a.Outcome = Failed
		a.Err = fmt.Errorf("%s%s on %s (database %s): %w", sql, e.GID, e.Node, e.Database, err)
		r.logger().Warn("finishing an in-doubt transaction failed; will retry", "gid", e.GID, "node", e.Node, "err", err)
	}
	return a
}

// CommitPrepared commits the prepared transaction gid, whose commit the GTM
// has logged, on each of nodes where it is still prepared, through
// connections of its own; it succeeds once none of them holds it prepared.
// It takes no snapshot gate: its caller, the coordinator that decided the
// commit, holds it (txn.Manager.Apply).
func (r *Resolver) CommitPrepared(ctx context.Context, gid string, nodes []string) error {
	cs := r.newConns()
	defer cs.close()
	var errs []error
	for _, node := range nodes {
		rows, err := cs.query(ctx, node, "postgres", `SELECT database FROM pg_prepared_xacts WHERE gid = $1`, gid)
		if err != nil {
			errs = append(errs, fmt.Errorf("datanode %s: %w", node, err))
			continue
		}
		for _, row := range rows {
			a := r.finish(ctx, cs, InDoubt{GID: gid, Node: node, Database: row[0], Decision: gtmclient.Committed}, true)
			if a.Outcome != DidCommit && a.Outcome != DidNothing {
				errs = append(errs, fmt.Errorf("datanode %s: %s: %v", node, a.Outcome, a.Err))
			}
		}
	}
	return errors.Join(errs...)
}

// scan lists the cluster's prepared transactions on every datanode, grouped
// by gid; scanned holds the nodes that answered.
func (r *Resolver) scan(ctx context.Context, cs *conns) (map[string][]InDoubt, map[string]bool, []error) {
	found := map[string][]InDoubt{}
	scanned := map[string]bool{}
	var problems []error
	pattern := likeEscape(r.Prefix()) + "%"
	for _, n := range cs.list {
		rows, err := cs.query(ctx, n.Name, "postgres",
			`SELECT gid, database, owner, extract(epoch FROM now() - prepared)::float8 FROM pg_prepared_xacts WHERE gid LIKE $1 ORDER BY gid`, pattern)
		if err != nil {
			problems = append(problems, fmt.Errorf("scan datanode %s: %w", n.Name, err))
			continue
		}
		scanned[n.Name] = true
		for _, row := range rows {
			secs, _ := strconv.ParseFloat(row[3], 64)
			e := InDoubt{GID: row[0], Node: n.Name, Database: row[1], Owner: row[2], Age: time.Duration(secs * float64(time.Second))}
			found[e.GID] = append(found[e.GID], e)
		}
	}
	return found, scanned, problems
}

// InDoubt lists the cluster's prepared transactions on every datanode with
// the GTM's decision for each, and the datanodes it could not scan.
func (r *Resolver) InDoubt(ctx context.Context) ([]InDoubt, []error) {
	cs := r.newConns()
	defer cs.close()
	found, _, problems := r.scan(ctx, cs)
	var out []InDoubt
	for _, gid := range sortedGIDs(found) {
		state, err := gtmclient.Unknown, error(nil)
		if r.GTM == nil {
			err = errors.New("no gtm")
		} else {
			state, err = r.GTM.Decision(ctx, gid)
		}
		for _, e := range found[gid] {
			e.Decision, e.DecisionErr = state, err
			out = append(out, e)
		}
	}
	return out, problems
}

// Resolve finishes one gid by hand (as pgxc_clean did): commit or abort it on
// every datanode that holds it prepared. It refuses to act against the GTM's
// decision unless force is set. An undecided gid gets the requested decision
// logged first, so that a coordinator still running it cannot decide
// otherwise.
func (r *Resolver) Resolve(ctx context.Context, gid string, commit, force bool) (Report, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var rep Report
	if !strings.HasPrefix(gid, r.Prefix()) {
		return rep, fmt.Errorf("gid %q is not a transaction of cluster %s (prefix %s)", gid, r.ClusterName, r.Prefix())
	}
	if r.GTM == nil && !force {
		return rep, errors.New("no gtm to check the decision against; use --force to act without it")
	}
	cs := r.newConns()
	defer cs.close()
	found, _, problems := r.scan(ctx, cs)
	rep.Problems = problems
	entries := found[gid]
	if len(entries) == 0 {
		return rep, fmt.Errorf("gid %s is not prepared on any datanode that answered", gid)
	}
	want, other := gtmclient.Aborted, gtmclient.Committed
	if commit {
		want, other = gtmclient.Committed, gtmclient.Aborted
	}
	state := gtmclient.Unknown
	if r.GTM != nil {
		var err error
		if state, err = r.GTM.Decision(ctx, gid); err != nil && !force {
			return rep, fmt.Errorf("ask the gtm for the decision of %s: %w", gid, err)
		}
	}
	if state == other && !force {
		return rep, fmt.Errorf("the gtm says %s is %s; refusing to make it %s (use --force to override the decision log)", gid, state, want)
	}
	loggedAbort := false
	if state == gtmclient.Unknown && r.GTM != nil {
		var nodes []string
		for _, e := range entries {
			nodes = append(nodes, e.Node)
		}
		sort.Strings(nodes)
		err := r.GTM.LogDecision(ctx, gid, nodes, commit)
		switch {
		case err == nil:
			loggedAbort = !commit
		case errors.Is(err, gtmclient.ErrDecisionConflict) && !force:
			return rep, fmt.Errorf("the gtm holds the opposite decision for %s (logged meanwhile); refusing (use --force to override)", gid)
		case !force:
			return rep, fmt.Errorf("log the decision for %s at the gtm: %w", gid, err)
		}
	}
	release, gated := r.enterGate(ctx, gid, entries, nil, commit)
	defer release()
	if !gated && !force {
		return rep, fmt.Errorf("the snapshot gate cannot be had to commit %s on several datanodes (a reader could see it half applied); try again, or use --force", gid)
	}
	for _, e := range entries {
		e.Decision = state
		a := r.finish(ctx, cs, e, commit)
		a.LoggedAbort = loggedAbort
		rep.Actions = append(rep.Actions, a)
	}
	return rep, nil
}

func sortedGIDs(m map[string][]InDoubt) []string {
	gids := make([]string, 0, len(m))
	for g := range m {
		gids = append(gids, g)
	}
	sort.Strings(gids)
	return gids
}

// likeEscape escapes LIKE's wildcards (with the default escape, backslash).
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `_`, `\_`, `%`, `\%`).Replace(s)
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
