// Package txn is the transaction manager of a coordinator: it ends the
// transactions of its sessions on the datanodes they touched — a plain
// COMMIT where one datanode wrote, two-phase commit with the gtm where
// several did (PREPARE, a durable decision, the snapshot gate, COMMIT
// PREPARED), and rollbacks — with every wait bounded. It reaches datanodes
// and the gtm only through the small interfaces below, so every step and
// every failure of the protocol is tested with in-memory fakes; it owns no
// connection, no session state and no SQL but its own.
package txn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/xlgo/xlgo/gtmclient"
	"github.com/xlgo/xlgo/pgerr"
)

// Backends runs statements on the backends a transaction holds, one per
// datanode. Exec may be called for several nodes at once. An error of a
// statement that was sent but whose answer never came (the connection broke
// or timed out after the statement left) wraps ErrNoAnswer: the statement
// may have run.
type Backends interface {
	// Exec runs sql on node's backend and returns its command tag.
	Exec(ctx context.Context, node, sql string) (tag string, err error)
}

// ErrNoAnswer marks the error of a statement sent to a datanode that did not
// answer: whether it ran is not known.
var ErrNoAnswer = errors.New("the datanode did not answer")

// GTM is what two-phase commit needs of the gtm (a *gtmclient.Client). A
// commit asks it for a GXID (handed out from a range the client holds),
// then logs the decision and asks for the snapshot gate in one round trip
// (CommitAndEnter), releases the gate without waiting and has the decision
// forgotten in a later batch (ForgetLater).
type GTM interface {
	NextGXID(ctx context.Context) (uint64, error)
	LogDecision(ctx context.Context, gid string, nodes []string, commit bool) error
	// CommitAndEnter logs a commit decision and takes the gate as a
	// committer: decided tells whether an error is the gate's (see
	// gtmclient.Client.CommitAndEnter).
	CommitAndEnter(ctx context.Context, gateWait time.Duration, gid string, nodes []string) (release func(), decided bool, err error)
	GateEnter(ctx context.Context, kind gtmclient.GateKind) (release func(), err error)
	ForgetLater(gid string)
}

// Default bounds of the manager's waits.
const (
	// DefaultGateWait bounds a decided commit's wait for the snapshot gate;
	// past it the resolver applies the commit.
	DefaultGateWait = 10 * time.Second
	// DefaultCommitWait bounds the COMMIT PREPAREDs of a commit, a one-node
	// COMMIT and the PREPAREs.
	DefaultCommitWait = 30 * time.Second
	// DefaultAbortWait bounds a rollback on the datanodes.
	DefaultAbortWait = 30 * time.Second
	// DefaultGTMWait bounds each call to the gtm.
	DefaultGTMWait = 30 * time.Second
)

// Manager ends transactions. Its zero value is usable: no gtm (a write on
// several datanodes is then refused), the default bounds, no failpoint.
type Manager struct {
	GTM         GTM    // nil when the coordinator has none
	ClusterName string // part of every global transaction id
	// GateWait, CommitWait, AbortWait and GTMWait bound the waits (0: the
	// defaults).
	GateWait, CommitWait, AbortWait, GTMWait time.Duration
	// Failpoint, when set, is called at each step of a commit (see Steps);
	// it observes the step (and may pause or end the process in a fault
	// test), it never changes which algorithm runs.
	Failpoint func(step string)
	// ResolveSoon, when set, asks the coordinator's resolver for a pass now
	// (a decided commit some datanode has yet to apply).
	ResolveSoon func()
	// Apply, when set, commits the prepared transaction gid on nodes through
	// connections of its own (the resolver's), and succeeds once none of them
	// holds it prepared any more. A commit whose COMMIT PREPARED failed on
	// some datanode is finished with it while the commit keeps holding the
	// snapshot gate (see finish); without it, the gate is released and the
	// resolver finishes the commit.
	Apply func(ctx context.Context, gid string, nodes []string) error
	// GateWaited, when set, is told how long a two-phase commit took to log
	// its decision and enter the snapshot gate (or give up on it).
	GateWaited func(time.Duration)
	Log        *slog.Logger
}

// The steps of a commit where the failpoint is called. The per-node steps
// run in the goroutine of that node's statement, while the other nodes'
// statements run too: "prepare:datanode2" is called before datanode2's
// PREPARE TRANSACTION is sent, "prepared:datanode1" once datanode1's has
// succeeded.
const (
	StepBeforePrepare = "before-prepare"
	StepAfterDecision = "after-decision"
	StepPrepare       = "prepare:"         // + node
	StepPrepared      = "prepared:"        // + node
	StepCommitPrep    = "commit-prepared:" // + node
	StepCommitted     = "committed:"       // + node
)

// Result is what the client is told besides its COMMIT.
type Result struct {
	// GID is the global transaction id of a two-phase commit, "" otherwise.
	GID string
	// Warning, when set, is a WARNING for the client: the commit is decided
	// and some datanode applies it later (through the resolver).
	Warning string
}

func (m *Manager) bound(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

func (m *Manager) log() *slog.Logger {
	if m.Log != nil {
		return m.Log
	}
	return slog.New(slog.DiscardHandler)
}

func (m *Manager) failpoint(step string) {
	if m.Failpoint != nil {
		m.Failpoint(step)
	}
}

func (m *Manager) failpointAt(step, node string) {
	if m.Failpoint != nil {
		m.Failpoint(step + node)
	}
}

// Commit commits a transaction that read on readers and wrote on writers
// (disjoint). The client's ctx may end: once the commit of the writers is
// under way it is finished within the manager's bounds all the same (a
// decided commit is never rolled back). An error means the transaction did
// not commit, except SQLSTATE 08007, whose outcome the gtm's decision log
// settles.
func (m *Manager) Commit(ctx context.Context, b Backends, readers, writers []string) (Result, error) {
	readers, writers = sorted(readers), sorted(writers)
	// Read-only participants commit at once, within ctx: their COMMIT only
	// ends a snapshot, and one that does not answer ends its transaction
	// when its backend is closed. Their error is the client's only when
	// nothing was written: a write that committed is not undone by it.
	var readErr error
	readErrs, _ := m.onEach(ctx, b, readers, "COMMIT", m.bound(m.CommitWait, DefaultCommitWait), "", "")
	for i, err := range readErrs {
		if err != nil && readErr == nil {
			readErr = err
		}
		if err != nil && len(writers) > 0 {
			m.log().Warn("commit of a read-only participant failed", "node", readers[i], "err", err)
		}
	}
	ctx = context.WithoutCancel(ctx)
	switch {
	case len(writers) == 0:
		return Result{}, readErr
	case len(writers) == 1:
		cctx, cancel := context.WithTimeout(ctx, m.bound(m.CommitWait, DefaultCommitWait))
		tag, err := b.Exec(cctx, writers[0], "COMMIT")
		timedOut := cctx.Err() != nil
		cancel()
		switch {
		case err == nil && tag != "COMMIT":
			// PostgreSQL answers ROLLBACK to the COMMIT of a transaction
			// that failed: the datanode rolled back what it was sent.
			return Result{}, noTransaction(writers[0], "COMMIT", tag)
		case err != nil && timedOut:
			return Result{}, pgerr.New(pgerr.TransactionResolutionUnknown,
				"the COMMIT of datanode %s did not answer within %s: whether it committed is not known", writers[0], m.bound(m.CommitWait, DefaultCommitWait))
		case errors.Is(err, ErrNoAnswer):
			// The COMMIT left and its answer was lost with the connection:
			// the datanode may have committed.
			return Result{}, pgerr.New(pgerr.TransactionResolutionUnknown,
				"the connection to datanode %s broke before the answer to COMMIT came: whether it committed is not known: %v", writers[0], err)
		case err != nil:
			return Result{}, err
		}
		return Result{}, nil
	}
	return m.twoPhase(ctx, b, writers)
}

// twoPhase commits a transaction that wrote on several datanodes.
func (m *Manager) twoPhase(ctx context.Context, b Backends, writers []string) (Result, error) {
	if m.GTM == nil {
		m.Abort(ctx, b, writers)
		return Result{}, pgerr.New(pgerr.ObjectNotInPrerequisiteState,
			"a transaction that writes on several datanodes needs the GTM, and none is configured")
	}
	gtmWait := m.bound(m.GTMWait, DefaultGTMWait)
	gctx, cancel := context.WithTimeout(ctx, gtmWait)
	gxid, err := m.GTM.NextGXID(gctx)
	cancel()
	if err != nil {
		m.Abort(ctx, b, writers)
		return Result{}, pgerr.New(pgerr.ConnectionFailure, "could not reach the GTM for a global transaction id, transaction rolled back: %v", err)
	}
	gid := fmt.Sprintf("xlgo_%s_%d", m.ClusterName, gxid)
	res := Result{GID: gid}
	m.failpoint(StepBeforePrepare)

	// Every participant prepares at once: one fsync's wait, not one each.
	errs, tags := m.onEach(ctx, b, writers, "PREPARE TRANSACTION "+quoteLiteral(gid), m.bound(m.CommitWait, DefaultCommitWait), StepPrepare, StepPrepared)
	for i, tag := range tags {
		// A backend outside a transaction block (or in a failed one)
		// answers PREPARE TRANSACTION with ROLLBACK and a warning: it has
		// nothing prepared, and COMMIT PREPARED would find nothing there
		// to commit. Committing the others would apply the transaction in
		// part.
		if errs[i] == nil && tag != "PREPARE TRANSACTION" {
			errs[i] = noTransaction(writers[i], "PREPARE TRANSACTION", tag)
		}
	}
	var prepared, failed []string
	var first error
	for i, n := range writers {
		if errs[i] != nil {
			failed = append(failed, n)
			if first == nil {
				first = errs[i]
			}
		} else {
			prepared = append(prepared, n)
		}
	}
	if first != nil {
		// A participant whose PREPARE failed without its datanode's answer
		// may have prepared it all the same (the answer lost with its
		// connection, its datanode lost and failing over to a standby that
		// has it): a logged abort lets the resolver roll it back at its next
		// pass instead of after its grace. Best effort: without it the grace
		// still ends it.
		if slices.ContainsFunc(errs, fateUnknown) {
			actx, cancel := context.WithTimeout(ctx, gtmWait)
			if err := m.GTM.LogDecision(actx, gid, writers, false); err != nil {
				m.log().Warn("could not log the abort of a failed prepare", "gid", gid, "err", err)
			}
			cancel()
		}
		m.abort(ctx, b, failed, prepared, gid)
		return res, first
	}

	// The decision, and the snapshot gate: readers of several nodes do not
	// start while the commit is half applied. The commit is decided: past
	// the gate's bound the resolver applies it (readers release the gate by
	// their own bounds) and the client has its COMMIT.
	// Without the gate (the gtm cannot be reached), a reader through another
	// coordinator could see the commit applied on some datanodes and not on
	// the others: the resolver applies it under the gate instead, once the
	// gtm answers again (it needs the gtm's decision log anyway).
	gateWait := m.bound(m.GateWait, DefaultGateWait)
	gctx, cancel = context.WithTimeout(ctx, gtmWait)
	gateStart := time.Now()
	release, decided, err := m.GTM.CommitAndEnter(gctx, gateWait, gid, writers)
	cancel()
	gerr := err
	if !decided {
		gerr = errNoGate
		// Unless the GTM refused it, the commit may have been logged all
		// the same (reply lost): only a logged abort makes rolling back
		// safe, else the resolver could commit what this rolled back.
		aerr := err
		if !errors.Is(err, gtmclient.ErrDecisionConflict) {
			actx, cancel := context.WithTimeout(ctx, gtmWait)
			aerr = m.GTM.LogDecision(actx, gid, writers, false)
			cancel()
		}
		switch {
		case aerr == nil || errors.Is(err, gtmclient.ErrDecisionConflict):
			m.abort(ctx, b, nil, prepared, gid)
			return res, pgerr.New(pgerr.StatementCompletionUnknown, "could not record the commit decision at the GTM, transaction rolled back: %v", err)
		case !errors.Is(aerr, gtmclient.ErrDecisionConflict):
			return res, pgerr.New(pgerr.TransactionResolutionUnknown,
				"could not record the commit decision at the GTM (%v); transaction %s stays prepared on its datanodes and is finished by the GTM's decision log once the GTM is back", err, gid)
		}
		// The abort conflicts: the commit was logged after all; finish it.
	}
	m.failpoint(StepAfterDecision)

	wctx, wcancel := context.WithTimeout(ctx, gateWait)
	defer wcancel()
	for gerr != nil && wctx.Err() == nil && (gerr == errNoGate || errors.Is(gerr, gtmclient.ErrUnavailable)) {
		if gerr != errNoGate {
			select {
			case <-wctx.Done():
			case <-time.After(gateRetry):
			}
		}
		release, gerr = m.GTM.GateEnter(wctx, gtmclient.GateCommitter)
	}
	timedOut := wctx.Err() != nil || errors.Is(gerr, context.DeadlineExceeded)
	wcancel()
	if m.GateWaited != nil {
		m.GateWaited(time.Since(gateStart))
	}
	if gerr != nil {
		if timedOut {
			m.log().Warn("commit decided but the snapshot gate was not free in time; the resolver applies it", "gid", gid, "waited", gateWait)
		} else {
			m.log().Warn("commit decided but the snapshot gate cannot be reached; the resolver applies it", "gid", gid, "err", gerr)
		}
		m.resolveSoon()
		res.Warning = fmt.Sprintf("transaction %s is committed; its datanodes apply it shortly", gid)
		return res, nil
	}
	var pending []string
	commitErrs, _ := m.onEach(ctx, b, writers, "COMMIT PREPARED "+quoteLiteral(gid), m.bound(m.CommitWait, DefaultCommitWait), StepCommitPrep, StepCommitted)
	for i, err := range commitErrs {
		// (42704: a resolver finished it already.)
		if err != nil && !pgerr.Is(err, pgerr.UndefinedObject) {
			pending = append(pending, writers[i])
			m.log().Warn("commit prepared failed", "node", writers[i], "gid", gid, "err", err)
		}
	}
	if len(pending) > 0 {
		// Applied on some datanodes and not on others: a reader must not
		// pass the gate before it is applied everywhere.
		res.Warning = fmt.Sprintf("transaction %s is committed; some datanodes will apply it when they are reachable again", gid)
		if m.Apply != nil {
			go m.finish(gid, pending, release)
			return res, nil
		}
		release()
		m.resolveSoon()
		return res, nil
	}
	release()
	m.GTM.ForgetLater(gid)
	return res, nil
}

// noTransaction is the error of a participant whose backend answered
// what commits a transaction as one that had none open (tag ROLLBACK): what
// it was sent is not there to commit.
func noTransaction(node, sql, tag string) error {
	return pgerr.New(pgerr.TransactionRollback,
		"datanode %s answered %s with %q: its part of the transaction was rolled back, so the transaction is", node, sql, tag)
}

// errNoGate marks a commit whose decision was logged by another call than
// the one that asks for the gate: the gate is yet to be asked for.
var errNoGate = errors.New("snapshot gate not asked for")

// finish applies a decided commit on the datanodes whose COMMIT PREPARED
// failed, holding the snapshot gate as a committer meanwhile, so that no
// read of several datanodes sees the commit applied on some and not on the
// others; it tries again until every one has applied it (or the resolver
// has), then releases the gate. The hold ends with the coordinator's gtm
// connection at the latest, and readers wait for it within their own bounds.
func (m *Manager) finish(gid string, nodes []string, release func()) {
	defer release()
	m.log().Warn("commit applied on some datanodes only; the snapshot gate stays held until the others apply it", "gid", gid, "nodes", nodes)
	m.resolveSoon()
	pause := FinishRetry
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), m.bound(m.CommitWait, DefaultCommitWait))
		err := m.Apply(ctx, gid, nodes)
		cancel()
		if err == nil {
			m.log().Info("commit applied on every datanode; snapshot gate released", "gid", gid, "attempts", attempt)
			m.GTM.ForgetLater(gid)
			return
		}
		if attempt == 1 || attempt%20 == 0 {
			m.log().Warn("commit not applied yet; retrying", "gid", gid, "nodes", nodes, "attempt", attempt, "err", err)
		}
		time.Sleep(pause)
		pause = min(2*pause, 2*time.Second)
	}
}

// gateRetry is the pause between a commit's attempts to reach the snapshot
// gate while the gtm cannot be reached.
const gateRetry = 50 * time.Millisecond

// FinishRetry is the first pause of finish between its attempts.
var FinishRetry = 50 * time.Millisecond

func (m *Manager) resolveSoon() {
	if m.ResolveSoon != nil {
		m.ResolveSoon()
	}
}

// Abort rolls back the open transactions of nodes, within ctx and the
// manager's bound (a node that does not answer, or that ctx leaves no time
// for, is left to end its transaction when its backend is closed: a backend
// inside a transaction is never pooled again).
func (m *Manager) Abort(ctx context.Context, b Backends, nodes []string) {
	m.abort(ctx, b, sorted(nodes), nil, "")
}

// fateUnknown tells whether a statement's error leaves it unknown whether the
// datanode ran it: no answer of the datanode's own (the connection broke, the
// datanode shut down or crashed under it, the statement cancelled by a bound).
func fateUnknown(err error) bool {
	if err == nil {
		return false
	}
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return true
	}
	return strings.HasPrefix(pe.Code, "08") || strings.HasPrefix(pe.Code, "57") || strings.HasPrefix(pe.Code, "XX")
}

// abort rolls back open transactions and prepared ones (of gid), at once.
func (m *Manager) abort(ctx context.Context, b Backends, open, prepared []string, gid string) {
	wait := m.bound(m.AbortWait, DefaultAbortWait)
	m.onEach(ctx, b, open, "ROLLBACK", wait, "", "")
	rollbackErrs, _ := m.onEach(ctx, b, prepared, "ROLLBACK PREPARED "+quoteLiteral(gid), wait, "", "")
	for i, err := range rollbackErrs {
		if err != nil {
			m.log().Warn("rollback prepared failed; the resolver will finish it", "node", prepared[i], "gid", gid, "err", err)
		}
	}
}

// onEach runs one statement on several nodes at once, each within wait,
// calling the failpoint before (pre+node) and after a success (post+node);
// it returns each node's error and command tag.
func (m *Manager) onEach(ctx context.Context, b Backends, nodes []string, sql string, wait time.Duration, pre, post string) ([]error, []string) {
	errs, tags := make([]error, len(nodes)), make([]string, len(nodes))
	if len(nodes) == 0 {
		return errs, tags
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	run := func(i int, n string) {
		if pre != "" {
			m.failpointAt(pre, n)
		}
		tags[i], errs[i] = b.Exec(ctx, n, sql)
		if errs[i] == nil && post != "" {
			m.failpointAt(post, n)
		}
	}
	if len(nodes) == 1 {
		run(0, nodes[0])
		return errs, tags
	}
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			run(i, n)
		}()
	}
	wg.Wait()
	return errs, tags
}

func sorted(nodes []string) []string {
	out := append([]string(nil), nodes...)
	sort.Strings(out)
	return out
}

// quoteLiteral quotes s as a SQL string literal.
func quoteLiteral(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}
