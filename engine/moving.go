package engine

import (
	"context"

	"errors"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/xlgo/xlgo/distribution"
	"github.com/xlgo/xlgo/pgerr"
)

// Statements and catalog changes.
//
// A statement plans with the catalog of one generation. When rows switch
// nodes, no statement planned with the catalog from before the switch may
// still route by value: so a coordinator acknowledges a new catalog epoch
// only once every statement that began under an older generation has ended
// (drainCatalog). Each session says which generation its running statement
// began under (stmtGen, 0 when none runs).

// drainWait bounds how long a new catalog waits for statements begun under
// the old one; those still running then are cancelled (drainCancelWait
// more), so that the gtm hears the acknowledgement before its own timeout.
const (
	drainWait       = 2500 * time.Millisecond
	drainCancelWait = 1500 * time.Millisecond
)

// movingWait bounds how long a statement waits for the buckets it routes
// into to finish switching nodes.
const movingWait = 15 * time.Second

// enterCatalog records that the session's statement runs under the
// catalog's present generation; it returns what to restore when it ends
// (statements nest: a portal's general path runs a statement).
func (s *session) enterCatalog() (restore uint64) {
	restore = s.stmtGen.Load()
	if restore != 0 || s.mover {
		return restore
	}
	for {
		g := s.co.Cache.Generation()
		s.stmtGen.Store(g + 1)
		if s.co.Cache.Generation() == g {
			return restore
		}
	}
}

// drainCatalog waits until no statement begun before generation gen is
// running, cancelling those that outlast drainWait.
func (c *Coordinator) drainCatalog(gen uint64) {
	old := func() []*session {
		var out []*session
		c.registry.Range(func(_, v any) bool {
			s := v.(*session)
			if g := s.stmtGen.Load(); g != 0 && g-1 < gen {
				out = append(out, s)
			}
			return true
		})
		return out
	}
	deadline := time.Now().Add(drainWait)
	cancelled := false
	for {
		left := old()
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			if cancelled {
				c.Logger.Warn("statements begun under an older catalog still run", "sessions", len(left))
				return
			}
			for _, s := range left {
				c.Logger.Info("cancelling a statement begun under an older catalog", "session", s.id)
				s.fenceVictim.Store(true)
				s.Cancel()
			}
			cancelled = true
			deadline = time.Now().Add(drainCancelWait)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// waitCatalogChange waits until the catalog generation moves past gen, up
// to the deadline; false when it did not.
func (c *Coordinator) waitCatalogChange(ctx context.Context, gen uint64, deadline time.Time) bool {
	for c.Cache.Generation() == gen {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// whileMoving runs a statement again when it routed a value into a bucket
// that is switching nodes, once the switch is over: routing happens before
// anything is sent to a datanode or the client (only an INSERT's rows are
// routed by value into a bucket; reads and other writes of a switching
// bucket go to every node of the table), so the statement had no effect.
// Beyond movingWait, or at once in a transaction that wrote already, the
// error is a serialization failure, which clients retry.
func (s *session) whileMoving(ctx context.Context, run func() error) error {
	deadline := time.Now().Add(movingWait)
	for {
		gen := s.co.Cache.Generation()
		err := run()
		var me *distribution.MovingError
		if !errors.As(err, &me) {
			return err
		}
		// A transaction that wrote holds row locks that statements begun
		// before the switch may wait for, and the switch waits for those
		// statements: it gives way at once (and retries).
		if s.tx.active && len(s.tx.writes) > 0 || !s.waitMoving(ctx, gen, deadline) {
			return &pgconn.PgError{Severity: "ERROR", Code: pgerr.SerializationFailure, Message: "could not route a row: " + me.Error(),
				Hint: "The rows are switching datanodes; retry the transaction. A switch that stays (its coordinator stopped) is finished by xlctl rebalance --resume."}
		}
	}
}

// waitMoving waits, outside any catalog generation, for the next catalog.
func (s *session) waitMoving(ctx context.Context, gen uint64, deadline time.Time) bool {
	held := s.stmtGen.Swap(0)
	ok := s.co.waitCatalogChange(ctx, gen, deadline)
	if held != 0 {
		s.enterCatalog()
	}
	return ok
}
