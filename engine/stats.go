package engine

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// dbStats are the counters of one database's client sessions on this
// coordinator (SHOW STATS). They are atomics: every message adds to them.
type dbStats struct {
	xacts, queries atomic.Int64
	// received counts the bytes of statement texts, parameters and COPY
	// data from clients; sent those of row values and COPY data to them.
	received, sent atomic.Int64
	// Microseconds: in transactions, in statements, waiting at a PAUSE.
	xactTime, queryTime, waitTime atomic.Int64
}

// statsByDB are the counters by database.
type statsByDB struct{ m sync.Map } // database -> *dbStats

// of is db's counters, made on first use.
func (s *statsByDB) of(db string) *dbStats {
	if v, ok := s.m.Load(db); ok {
		return v.(*dbStats)
	}
	v, _ := s.m.LoadOrStore(db, &dbStats{})
	return v.(*dbStats)
}

// DBStats are one database's totals since the coordinator started.
type DBStats struct {
	Database                      string
	Xacts, Queries                int64
	Received, Sent                int64
	XactTime, QueryTime, WaitTime time.Duration
}

// snapshot lists every database's totals by name.
func (s *statsByDB) snapshot() []DBStats {
	var out []DBStats
	s.m.Range(func(k, v any) bool {
		st := v.(*dbStats)
		out = append(out, DBStats{Database: k.(string), Xacts: st.xacts.Load(), Queries: st.queries.Load(),
			Received: st.received.Load(), Sent: st.sent.Load(), XactTime: time.Duration(st.xactTime.Load()) * time.Microsecond,
			QueryTime: time.Duration(st.queryTime.Load()) * time.Microsecond, WaitTime: time.Duration(st.waitTime.Load()) * time.Microsecond})
		return true
	})
	slices.SortFunc(out, func(a, b DBStats) int { return strings.Compare(a.Database, b.Database) })
	return out
}

// Stats lists the coordinator's client totals by database.
func (c *Coordinator) Stats() []DBStats { return c.admin.stats.snapshot() }

func micros(d time.Duration) int64 { return int64(d / time.Microsecond) }
