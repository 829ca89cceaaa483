package engine

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/xlgo/xlgo/executor"
	"github.com/xlgo/xlgo/gtmclient"
	"github.com/xlgo/xlgo/pgerr"
	"github.com/xlgo/xlgo/pooler"
)

// The snapshot gate (DESIGN.md §7) as a session uses it. Readers and
// committers exclude each other, so a session never waits for anything a
// waiting committer may hold while it holds the gate as a reader: it takes
// its backends before it enters, it enters at most once (a REPEATABLE READ
// transaction takes its snapshots before its read, not inside it), and it
// waits at the gate only as long as its statement may run (a cancel, the
// statement_timeout, the coordinator's bound). A committer waits a bounded
// time too: past it, the commit is finished by the resolver. A hold ends with
// the statement that took it (at the latest), with the session, and with the
// GTM connection.

// Default bounds of the waits at the snapshot gate.
const (
	// DefaultReadGateWait bounds a reader's wait for the gate when its
	// statement_timeout does not end it sooner.
	DefaultReadGateWait = 30 * time.Second
	// DefaultCommitGateWait bounds a committer's wait for the gate, once its
	// decision is logged; past it the resolver applies the commit.
	DefaultCommitGateWait = 10 * time.Second
	// DefaultCommitPreparedWait bounds the COMMIT PREPAREDs of a commit.
	DefaultCommitPreparedWait = 30 * time.Second
)

// errGateWait ends a wait that reached the coordinator's bound.
var errGateWait = errors.New("snapshot gate wait bound reached")

// gateHold is a session's hold on the snapshot gate.
type gateHold struct {
	kind    gtmclient.GateKind
	release func()
}

func (c *Coordinator) readGateWait() time.Duration {
	if c.ReadGateWait > 0 {
		return c.ReadGateWait
	}
	return DefaultReadGateWait
}

func (c *Coordinator) commitGateWait() time.Duration {
	if c.CommitGateWait > 0 {
		return c.CommitGateWait
	}
	return DefaultCommitGateWait
}

func (c *Coordinator) commitPreparedWait() time.Duration {
	if c.CommitPreparedWait > 0 {
		return c.CommitPreparedWait
	}
	return DefaultCommitPreparedWait
}

// waitContext bounds a wait of the running statement at the coordinator
// (for the snapshot gate, for a free backend): it ends with ctx, with a
// cancel of the statement, at its statement_timeout and, when limit > 0,
// after limit. done must be called when the wait is over.
func (s *session) waitContext(ctx context.Context, limit time.Duration) (wctx context.Context, done func()) {
	cctx, cancel := context.WithCancelCause(ctx)
	var deadline time.Time
	cause := errGateWait
	if limit > 0 {
		deadline = time.Now().Add(limit)
	}
	if s.stmtSeq.Load() != 0 && s.timeoutKnown && s.timeout > 0 {
		if d := s.stmtStart.Add(s.timeout); deadline.IsZero() || d.Before(deadline) {
			deadline, cause = d, errStatementTimeout
		}
	}
	wctx = cctx
	stop := func() {}
	if !deadline.IsZero() {
		wctx, stop = context.WithDeadlineCause(cctx, deadline, cause)
	}
	s.mu.Lock()
	s.stopWait = cancel
	s.mu.Unlock()
	if s.cancelErr() != nil {
		cancel(errUserCancel) // a cancel that came before
	}
	return wctx, func() {
		s.mu.Lock()
		s.stopWait = nil
		s.mu.Unlock()
		stop()
		cancel(nil)
	}
}

// waitError is the error of a wait bounded by waitContext that failed.
func waitError(ctx, wctx context.Context, err error, what string) error {
	switch context.Cause(wctx) {
	case errUserCancel:
		return pgerr.New(pgerr.QueryCanceled, "canceling statement due to user request")
	case errStatementTimeout:
		return pgerr.New(pgerr.QueryCanceled, "canceling statement due to statement timeout")
	case errGateWait:
		return pgerr.New(pgerr.LockNotAvailable, "%s did not pass the snapshot gate in time: distributed commits held it", what)
	}
	if ctx.Err() != nil {
		return pgerr.New(pgerr.QueryCanceled, "canceling statement due to user request")
	}
	return err
}

// enterGate takes the snapshot gate for kind, waiting as waitContext
// bounds it; a session that holds it already for kind goes on holding it
// (release then does nothing). release must be called on the session's
// goroutine.
func (s *session) enterGate(ctx context.Context, kind gtmclient.GateKind, what string) (release func(), err error) {
	if s.gate != nil {
		if s.gate.kind == kind {
			return func() {}, nil
		}
		return nil, pgerr.New(pgerr.InternalError, "%s: the session already holds the snapshot gate as the other group", what)
	}
	wctx, done := s.waitContext(ctx, s.co.readGateWait())
	start := time.Now()
	rel, err := s.co.GTM.GateEnter(wctx, kind)
	s.co.Metrics.gateWait[gateIndex(kind)].Observe(time.Since(start).Seconds())
	if err != nil {
		err = waitError(ctx, wctx, err, what)
		done()
		var pe *pgconn.PgError
		if !errors.As(err, &pe) {
			return nil, pgerr.New(pgerr.ConnectionFailure, "%s needs the GTM's snapshot gate, which is not reachable: %v", what, err)
		}
		return nil, err
	}
	done()
	h := &gateHold{kind: kind, release: rel}
	s.gate = h
	if s.co.Failpoint != nil {
		s.co.Failpoint("read-gate-entered")
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			rel()
			if s.gate == h {
				s.gate = nil
			}
		})
	}, nil
}

// leaveGate releases a hold that outlived what took it (a bug: every
// holder releases its own); why says where it was found.
func (s *session) leaveGate(why string) {
	if h := s.gate; h != nil {
		s.gate = nil
		h.release()
		s.log.Error("snapshot gate still held; released", "at", why, "kind", h.kind)
	}
}

// ReadGate implements executor.Backends: the backends of nodes are joined
// first, then the gate is entered. A REPEATABLE READ transaction takes its
// snapshots instead (inside the gate, with every backend taken before), and
// reads without the gate.
func (s *session) ReadGate(ctx context.Context, nodes []string) (func(), error) {
	noop := func() {}
	if !s.timeoutKnown && len(nodes) > 1 {
		// The statement_timeout bounds the wait at the gate.
		if _, err := s.statementTimeout(ctx); err != nil {
			return nil, err
		}
	}
	if s.tx.active && s.tx.rr && !s.tx.snapshotTaken {
		if err := s.takeSnapshots(ctx); err != nil {
			return nil, err
		}
	}
	for _, n := range nodes {
		if _, err := s.Conn(ctx, n, false); err != nil {
			return nil, err
		}
	}
	if s.co.GTM == nil || len(s.co.Nodes.Datanodes()) < 2 || (s.tx.active && s.tx.snapshotTaken) || len(nodes) < 2 {
		return noop, s.cancelErr()
	}
	release, err := s.enterGate(ctx, gtmclient.GateReader, "a read of several datanodes")
	if err != nil {
		return nil, err
	}
	// The statements are sent once the gate is passed: a cancel that came
	// while it waited stops them here.
	if err := s.cancelErr(); err != nil {
		release()
		return nil, err
	}
	return release, nil
}

// takeSnapshots starts a REPEATABLE READ transaction on every datanode and
// has each take its snapshot while the read gate is held: together they see
// every distributed commit on all of its nodes or on none. The backends are
// taken before the gate is entered.
func (s *session) takeSnapshots(ctx context.Context) error {
	s.tx.snapshotTaken = true
	nodes := s.datanodeNames()
	conns := make([]*pooler.Conn, len(nodes))
	for i, n := range nodes {
		c, err := s.conn(ctx, n)
		if err != nil {
			return err
		}
		conns[i] = c
	}
	release := func() {}
	if s.co.GTM != nil && len(nodes) > 1 {
		r, err := s.enterGate(ctx, gtmclient.GateReader, "a REPEATABLE READ transaction over several datanodes")
		if err != nil {
			return err
		}
		release = r
	}
	defer release()
	batch := s.beginStatements()
	for _, q := range s.tx.joinStatements() {
		batch += ";\n" + q
	}
	batch += ";\nSELECT 1"
	mrrs := make([]*pgconn.MultiResultReader, len(nodes))
	for i, c := range conns {
		if s.tx.begun[nodes[i]] {
			continue
		}
		mrrs[i] = c.Exec(ctx, batch)
	}
	var firstErr error
	for i, mrr := range mrrs {
		if mrr == nil {
			continue
		}
		if _, err := mrr.ReadAll(); err != nil && firstErr == nil {
			firstErr = executor.NodeError(nodes[i], err)
		}
		s.tx.begun[nodes[i]] = true
	}
	return firstErr
}

// gateIndex is a gate group's place in Metrics.gateWait.
func gateIndex(k gtmclient.GateKind) int {
	if k == gtmclient.GateReader {
		return gateRead
	}
	return gateCommit
}
