package gtm

import (
	"sync"
	"time"

	"github.com/xlgo/xlgo/gtm/gtmproto"
)

// Automatic failover of the GTM (WithFailover). The coordinators are its
// witnesses. Each holds a lease at the primary, renewed several times per
// lease time (failover time / 2). A primary that has lost its standby serves
// only while a majority of the coordinators hold a lease: cut off with a
// minority, it stops serving (its clients are told it is no primary, as a
// standby tells them, and look elsewhere). A coordinator that has not reached
// a primary for the failover time votes at every gtm for the standby's
// promotion; a standby that has not streamed from its primary for that long
// either, and holds the votes of a majority of the coordinators, promotes
// itself. Since a majority's leases and a majority's votes cannot both be
// current (a vote comes a failover time after its coordinator's last lease,
// a lease counts for half of that), two gtms never serve at once.
//
// The votes that promote a standby count as the voters' leases there, so
// that it serves the majority that promoted it at once.
//
// A promoted standby starts with the snapshot gate held by a committer for
// the committer linger, as if a committer's connection had just gone: a
// commit the old primary let through may still be being applied on the
// datanodes, and no reader passes the gate until it is done.

// WithFailover turns automatic failover on with that failover time (0: off).
func WithFailover(after time.Duration) Option {
	return func(o *options) { o.failoverAfter = after }
}

type quorum struct {
	mu      sync.Mutex
	leases  map[string]voice // coordinator -> its last lease
	votes   map[string]voice // coordinator -> its last vote
	lostAt  time.Time        // a standby: when it last stopped streaming (zero while it streams)
	heardAt time.Time        // a standby: when it last heard from its primary
}

// heard notes that a standby's primary sent something.
func (q *quorum) heard() {
	q.mu.Lock()
	q.heardAt = time.Now()
	q.mu.Unlock()
}

type voice struct {
	at           time.Time
	coordinators int // how many coordinators it counts in the cluster
}

// current counts the witnesses of m seen within d, against the largest
// number of coordinators any of them counts.
func current(m map[string]voice, d time.Duration) (n, of int) {
	of = 1
	for name, w := range m {
		if time.Since(w.at) > d {
			delete(m, name)
			continue
		}
		n++
		of = max(of, w.coordinators)
	}
	return n, of
}

func (s *Server) leaseTime() time.Duration { return s.opts.failoverAfter / 2 }

// serving reports whether a primary may answer: failover is off, or its
// standby is attached, or a majority of the coordinators hold a lease.
func (s *Server) serving() bool {
	if s.opts.failoverAfter <= 0 {
		return true
	}
	s.replMu.Lock()
	attached := s.replica != nil
	s.replMu.Unlock()
	if attached {
		return true
	}
	s.quorum.mu.Lock()
	defer s.quorum.mu.Unlock()
	n, of := current(s.quorum.leases, s.leaseTime())
	return n >= of/2+1
}

func (s *Server) notServingMessage() string {
	return "gtm has lost its standby and holds no lease of a majority of the coordinators: it serves no one (its standby may be the primary now)"
}

// lease records coordinator name's lease (it counts coordinators in all).
func (s *Server) lease(name string, coordinators int) {
	s.quorum.mu.Lock()
	s.quorum.leases[name] = voice{time.Now(), coordinators}
	s.quorum.mu.Unlock()
}

// streamingChanged keeps when a standby stopped streaming.
func (s *Server) streamingChanged(streaming bool) {
	s.quorum.mu.Lock()
	defer s.quorum.mu.Unlock()
	switch {
	case streaming:
		s.quorum.lostAt = time.Time{}
	case s.quorum.lostAt.IsZero():
		// Lost since it last heard from the primary, not since it noticed.
		s.quorum.lostAt = time.Now()
		if !s.quorum.heardAt.IsZero() {
			s.quorum.lostAt = s.quorum.heardAt
		}
	}
}

// vote records coordinator name's vote for this standby's promotion and
// promotes it when a majority voted and it lost its primary as long ago as
// the failover time. It reports whether this gtm is the primary now.
func (s *Server) vote(name string, coordinators int) bool {
	if !s.standby.Load() {
		return true
	}
	if s.opts.failoverAfter <= 0 {
		return false
	}
	s.quorum.mu.Lock()
	s.quorum.votes[name] = voice{time.Now(), coordinators}
	n, of := current(s.quorum.votes, s.opts.failoverAfter)
	lost := !s.quorum.lostAt.IsZero() && time.Since(s.quorum.lostAt) >= s.opts.failoverAfter
	s.quorum.mu.Unlock()
	if !lost || n < of/2+1 || !s.followed.Load() {
		return false
	}
	gen, _, err := s.Promote()
	if err != nil {
		s.logger.Error("automatic promotion failed", "err", err)
		return false
	}
	// The votes count as leases: each voter gave up its lease at the old
	// primary a failover time ago, and turns to this one now. Without them
	// the new primary, having no standby, would serve no one until a
	// majority's next leases came, and a client answered "not serving"
	// meanwhile moves on to the next address, the lost primary.
	s.quorum.mu.Lock()
	for name, v := range s.quorum.votes {
		if time.Since(v.at) <= s.opts.failoverAfter {
			s.quorum.leases[name] = voice{time.Now(), v.coordinators}
		}
	}
	s.quorum.mu.Unlock()
	s.logger.Warn("promoted by the votes of a majority of the coordinators: the primary was lost", "votes", n, "coordinators", of, "generation", gen)
	return true
}

// hold makes the gate held by a committer for d, as one whose connection
// just went (see above).
func (g *gate) hold(d time.Duration) {
	if d <= 0 {
		return
	}
	e := &gateEntry{kind: gtmproto.GateCommitter, granted: true}
	g.mu.Lock()
	if g.holders == 0 {
		g.active = gtmproto.GateCommitter
	}
	if g.active == gtmproto.GateCommitter {
		g.holders++
		time.AfterFunc(d, func() { g.expire(e) })
	}
	g.mu.Unlock()
}
