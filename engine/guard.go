package engine

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xlgo/xlgo/executor"
	"github.com/xlgo/xlgo/pgerr"
)

// The statement guard: a datanode that does not answer ends the statement
// all the same. PostgreSQL ends a statement at its statement_timeout, and a
// client's cancel reaches the datanodes as CancelRequests; neither helps when
// the network between the coordinator and a datanode holds or loses what it
// carries (the query, the answer, the cancel). So the coordinator ends a
// client statement's datanode work itself, timeoutGrace after its
// statement_timeout or cancelGrace after the client's cancel: the context of
// that work ends, so each backend it waits for is sent a CancelRequest and,
// when it has still not answered a second later, its connection is closed
// (pooler); the client gets 57014 as PostgreSQL would give it. A COMMIT's
// work on the datanodes is not guarded: the transaction manager bounds it.
// A rollback (after an error, or the client's) takes abortGrace at most: a
// backend that has not answered its ROLLBACK by then has its connection
// closed, and its datanode ends the transaction when it sees that.

const (
	// timeoutGrace is how long past a statement's statement_timeout the
	// coordinator waits for its datanodes, which end it at its
	// statement_timeout themselves when they can be reached.
	timeoutGrace = 500 * time.Millisecond
	// cancelGrace is how long after a client's cancel the coordinator waits
	// for the datanodes to end the statement.
	cancelGrace = time.Second
	// abortGrace bounds a rollback of the session's datanodes.
	abortGrace = 500 * time.Millisecond
)

// abortNodes rolls back the transaction on nodes within abortGrace; the
// backends that have not answered by then are closed (and dropped).
func (s *session) abortNodes(ctx context.Context, nodes []string) {
	if len(nodes) == 0 {
		return
	}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortGrace)
	defer cancel()
	b := &abortBackends{s: s, answered: map[string]*atomic.Bool{}}
	for _, n := range nodes {
		b.answered[n] = &atomic.Bool{}
	}
	killed := make(chan []string, 1)
	stop := context.AfterFunc(actx, func() { killed <- b.kill() })
	s.co.txnManager().Abort(actx, b, nodes)
	if !stop() {
		for _, n := range <-killed {
			s.dropConn(n)
		}
	}
}

// abortBackends runs a rollback on the session's backends and notes which
// answered.
type abortBackends struct {
	s        *session
	answered map[string]*atomic.Bool // read-only map
}

func (b *abortBackends) Exec(ctx context.Context, node, sql string) (string, error) {
	tag, err := b.s.simple(ctx, node, sql)
	b.answered[node].Store(true)
	return tag, err
}

// kill closes the connections of the backends that have not answered (their
// reads fail at once) and returns their nodes.
func (b *abortBackends) kill() []string {
	var out []string
	for n, done := range b.answered {
		if done.Load() {
			continue
		}
		b.s.mu.Lock()
		c := b.s.conns[n]
		b.s.mu.Unlock()
		if c != nil {
			c.PgConn.Conn().Close()
		}
		out = append(out, n)
	}
	return out
}

// stmtGuard ends the datanode work of client statements, one at a time.
// A session's statements share one guard, and so one context, until a
// timeout or a cancel ends it (the next statement then gets a new one): a
// statement costs no context of its own. epoch tells the statements apart,
// so that a timer of one that has ended does nothing to the next.
type stmtGuard struct {
	parent context.Context // what ctx was derived from
	ctx    context.Context
	stop   context.CancelCauseFunc
	mu     sync.Mutex
	epoch  uint64 // the statement guarded now
	timer  *time.Timer
	// off: the statement commits; the transaction manager bounds that, and
	// its errors are the client's as they are.
	off bool
}

// end ends the work of the statement of epoch, when it is still running
// and not committing.
func (g *stmtGuard) end(epoch uint64, cause error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.epoch == epoch && !g.off {
		g.stop(cause)
	}
}

// guardStatement guards the client statement that started at s.stmtStart
// and returns the context of its work; done must be called when it ends.
// A statement run by another (a portal's) is guarded by the other's: g is
// then nil.
func (s *session) guardStatement(ctx context.Context) (gctx context.Context, g *stmtGuard, done func()) {
	s.mu.Lock()
	nested := s.guard != nil
	s.mu.Unlock()
	if nested {
		return ctx, nil, func() {}
	}
	g = s.idleGuard
	if g == nil || g.parent != ctx || g.ctx.Err() != nil {
		if g != nil {
			g.stop(nil)
		}
		gctx, stop := context.WithCancelCause(ctx)
		g = &stmtGuard{parent: ctx, ctx: executor.WithGuard(gctx), stop: stop}
		s.idleGuard = g
	}
	g.mu.Lock()
	g.epoch++
	g.off = false
	g.timer = nil
	g.mu.Unlock()
	if s.timeoutKnown {
		s.armGuard(g)
	}
	s.mu.Lock()
	s.guard = g
	s.mu.Unlock()
	return g.ctx, g, s.unguard
}

// unguard ends the guard of the statement that has ended.
func (s *session) unguard() {
	s.mu.Lock()
	g := s.guard
	s.guard = nil
	s.mu.Unlock()
	g.mu.Lock()
	g.epoch++
	if g.timer != nil {
		g.timer.Stop()
		g.timer = nil
	}
	g.mu.Unlock()
}

// releaseGuard ends the session's guard context (the session ends).
func (s *session) releaseGuard() {
	if s.idleGuard != nil {
		s.idleGuard.stop(nil)
		s.idleGuard = nil
	}
}

// armGuard starts g's clock once the session's statement_timeout is known.
func (s *session) armGuard(g *stmtGuard) {
	if g == nil || s.timeout <= 0 {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.timer == nil && !g.off {
		epoch := g.epoch
		g.timer = time.AfterFunc(time.Until(s.stmtStart.Add(s.timeout+timeoutGrace)), func() { g.end(epoch, errStatementTimeout) })
	}
}

// guardOff ends the guard of the running statement: it commits.
func (s *session) guardOff() {
	s.mu.Lock()
	g := s.guard
	s.mu.Unlock()
	if g == nil {
		return
	}
	g.mu.Lock()
	g.off = true
	if g.timer != nil {
		g.timer.Stop()
	}
	g.mu.Unlock()
}

// cancelGuardLocked ends the running statement's datanode work cancelGrace
// from now (a client's cancel; s.mu held).
func (s *session) cancelGuardLocked() {
	if g := s.guard; g != nil {
		g.mu.Lock()
		epoch := g.epoch
		g.mu.Unlock()
		time.AfterFunc(cancelGrace, func() { g.end(epoch, errUserCancel) })
	}
}

// clientError is the client's error of a statement whose guard may have
// ended its work (g may be nil: no guard of its own).
func (g *stmtGuard) clientError(err error) error {
	if err == nil || g == nil {
		return err
	}
	g.mu.Lock()
	off := g.off
	g.mu.Unlock()
	if off {
		return err
	}
	switch context.Cause(g.ctx) {
	case errStatementTimeout:
		return pgerr.New(pgerr.QueryCanceled, "canceling statement due to statement timeout")
	case errUserCancel:
		return pgerr.New(pgerr.QueryCanceled, "canceling statement due to user request")
	}
	return err
}
