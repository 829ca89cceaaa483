package gtm

import (
	"sync"
	"time"

	"github.com/xlgo/xlgo/gtm/gtmproto"
)

// The snapshot gate (DESIGN.md §7): two groups, readers and committers, that
// exclude each other but not themselves. A request joins the group that holds
// the gate at once unless the other group is waiting; then it queues, so a
// continuous stream of one group never starves the other. When the holders
// drain, the gate passes to the other group if it waits, admitting every
// request it has queued (FIFO per group), else to the own group's queue.
// The gate lives in memory only: a grant is a lease on its connection and
// ends with it (a closed connection, or one keepalive finds dead), but for a
// committer's, which outlives it by the gate's linger: the COMMIT PREPAREDs
// the committer sent before its connection to the GTM broke still reach
// their datanodes, and no reader may pass the gate while the commit is
// applied on some of them only.

// gateEntry is one GateEnter request: waiting, or holding the gate.
type gateEntry struct {
	conn    *serverConn
	id      uint64 // the GateEnter request id: the grant's token
	kind    gtmproto.GateKind
	granted bool
	queued  time.Time // when it had to wait (zero if granted at once)
}

// gate is the snapshot gate's state.
type gate struct {
	mu      sync.Mutex
	active  gtmproto.GateKind // group holding (or last holding) the gate; 0 before the first grant
	holders int
	queue   [3][]*gateEntry // by kind
	byConn  map[*serverConn]map[uint64]*gateEntry
	// linger is how long a committer's grant outlives its connection (0:
	// it ends with it); late answers the requests granted when it ends.
	linger time.Duration
	late   func(granted []*gateEntry)
	m      *metrics
}

func newGate(m *metrics) *gate {
	return &gate{byConn: map[*serverConn]map[uint64]*gateEntry{}, m: m}
}

func otherKind(k gtmproto.GateKind) gtmproto.GateKind {
	if k == gtmproto.GateReader {
		return gtmproto.GateCommitter
	}
	return gtmproto.GateReader
}

func validGateKind(k gtmproto.GateKind) bool {
	return k == gtmproto.GateReader || k == gtmproto.GateCommitter
}

// enter queues a request and returns the entries granted by it (possibly
// itself); the caller answers them after enter returns. A duplicate token
// on the same connection returns false.
func (g *gate) enter(c *serverConn, id uint64, kind gtmproto.GateKind) ([]*gateEntry, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	m := g.byConn[c]
	if m == nil {
		m = map[uint64]*gateEntry{}
		g.byConn[c] = m
	}
	if _, dup := m[id]; dup {
		return nil, false
	}
	resume := kind == gtmproto.GateCommitterResume
	if resume {
		kind = gtmproto.GateCommitter
	}
	e := &gateEntry{conn: c, id: id, kind: kind}
	m[id] = e
	if resume && g.holders > 0 && g.active == gtmproto.GateCommitter {
		// Its commit is being applied: it holds with the committers now,
		// ahead of waiting readers.
		e.granted = true
		g.holders++
		g.m.gateGrants[kind].Inc()
		return []*gateEntry{e}, true
	}
	g.queue[kind] = append(g.queue[kind], e)
	granted := g.dispatch()
	if !e.granted {
		e.queued = time.Now()
		g.m.gateWaits[kind].Inc()
	}
	return granted, true
}

// leave releases the grant of token id on c, or withdraws it if it still waits.
func (g *gate) leave(c *serverConn, id uint64) []*gateEntry {
	g.mu.Lock()
	defer g.mu.Unlock()
	e := g.byConn[c][id]
	if e == nil {
		return nil
	}
	g.remove(e)
	return g.dispatch()
}

// dropConn releases and withdraws everything c holds or waits for.
func (g *gate) dropConn(c *serverConn) []*gateEntry {
	g.mu.Lock()
	defer g.mu.Unlock()
	m := g.byConn[c]
	if m == nil {
		return nil
	}
	for _, e := range m {
		if e.granted && e.kind == gtmproto.GateCommitter && g.linger > 0 {
			// Held a while longer, then released (expire).
			delete(m, e.id)
			time.AfterFunc(g.linger, func() { g.expire(e) })
			continue
		}
		g.remove(e)
	}
	delete(g.byConn, c)
	return g.dispatch()
}

// expire ends the grant of a committer whose connection is gone.
func (g *gate) expire(e *gateEntry) {
	g.mu.Lock()
	g.holders--
	granted := g.dispatch()
	late := g.late
	g.mu.Unlock()
	if late != nil && len(granted) > 0 {
		late(granted)
	}
}

func (g *gate) remove(e *gateEntry) {
	if m := g.byConn[e.conn]; m != nil {
		delete(m, e.id)
		if len(m) == 0 {
			delete(g.byConn, e.conn)
		}
	}
	if e.granted {
		g.holders--
		return
	}
	q := g.queue[e.kind]
	for i, x := range q {
		if x == e {
			g.queue[e.kind] = append(q[:i:i], q[i+1:]...)
			break
		}
	}
}

// dispatch grants what the rules allow and returns the newly granted entries.
func (g *gate) dispatch() []*gateEntry {
	r, w := len(g.queue[gtmproto.GateReader]), len(g.queue[gtmproto.GateCommitter])
	if g.holders > 0 {
		// The holding group admits more only while the other group does not wait.
		if len(g.queue[otherKind(g.active)]) == 0 && len(g.queue[g.active]) > 0 {
			return g.grantAll(g.active)
		}
		return nil
	}
	switch {
	case r == 0 && w == 0:
		return nil
	case g.active != 0 && len(g.queue[otherKind(g.active)]) > 0:
		g.active = otherKind(g.active) // take turns
	case g.active != 0 && len(g.queue[g.active]) > 0:
	case r > 0:
		g.active = gtmproto.GateReader
	default:
		g.active = gtmproto.GateCommitter
	}
	return g.grantAll(g.active)
}

func (g *gate) grantAll(k gtmproto.GateKind) []*gateEntry {
	q := g.queue[k]
	g.queue[k] = nil
	var now time.Time
	for _, e := range q {
		e.granted = true
		if !e.queued.IsZero() {
			if now.IsZero() {
				now = time.Now()
			}
			g.m.gateWait[k].Observe(now.Sub(e.queued).Seconds())
		}
	}
	g.holders += len(q)
	g.m.gateGrants[k].Add(float64(len(q)))
	return q
}

// gateStats is the gate's state for tests and logs.
type gateStats struct {
	active            gtmproto.GateKind
	holders           int
	readersWaiting    int
	committersWaiting int
}

func (g *gate) stats() gateStats {
	g.mu.Lock()
	defer g.mu.Unlock()
	return gateStats{g.active, g.holders, len(g.queue[gtmproto.GateReader]), len(g.queue[gtmproto.GateCommitter])}
}

// GateState is the snapshot gate's state, for monitoring and tests.
type GateState struct {
	Active            gtmproto.GateKind // group holding (or last holding) the gate; 0 before the first grant
	Holders           int
	ReadersWaiting    int
	CommittersWaiting int
}

// Gate reports the snapshot gate's state.
func (s *Server) Gate() GateState {
	st := s.gate.stats()
	return GateState{st.active, st.holders, st.readersWaiting, st.committersWaiting}
}
