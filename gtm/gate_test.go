package gtm

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xlgo/xlgo/gtm/gtmproto"
)

// gateSession is one session of an isolation-style gate spec: its connection
// and the token of its current request.
type gateSession struct {
	conn  *serverConn
	token uint64
	kind  gtmproto.GateKind
}

// runGateSpec plays steps on a fresh gate. A step is "NAME enter", "NAME
// leave" or "NAME crash"; sessions named r* are readers, c* committers. After
// each step the sessions granted by it must be exactly the listed ones.
func runGateSpec(t *testing.T, steps []string, granted [][]string) {
	t.Helper()
	g := newGate(newMetrics())
	sessions := map[string]*gateSession{}
	names := map[*serverConn]string{}
	var next uint64
	for i, step := range steps {
		f := strings.Fields(step)
		name, op := f[0], f[1]
		ses := sessions[name]
		if ses == nil {
			kind := gtmproto.GateReader
			if name[0] == 'c' {
				kind = gtmproto.GateCommitter
			}
			ses = &gateSession{conn: &serverConn{}, kind: kind}
			sessions[name] = ses
			names[ses.conn] = name
		}
		var got []*gateEntry
		switch op {
		case "enter":
			next++
			ses.token = next
			var ok bool
			got, ok = g.enter(ses.conn, ses.token, ses.kind)
			if !ok {
				t.Fatalf("step %d %q: duplicate token", i, step)
			}
		case "leave":
			got = g.leave(ses.conn, ses.token)
		case "crash":
			got = g.dropConn(ses.conn)
		default:
			t.Fatalf("bad step %q", step)
		}
		var gotNames []string
		for _, e := range got {
			gotNames = append(gotNames, names[e.conn])
		}
		slices.Sort(gotNames)
		want := slices.Clone(granted[i])
		slices.Sort(want)
		if !slices.Equal(gotNames, want) {
			t.Fatalf("step %d %q granted %v, want %v (gate %+v)", i, step, gotNames, want, g.stats())
		}
	}
}

func TestGateInterleavings(t *testing.T) {
	for _, tc := range []struct {
		name    string
		steps   []string
		granted [][]string
	}{
		{"readers share",
			[]string{"r1 enter", "r2 enter", "r1 leave", "r3 enter"},
			[][]string{{"r1"}, {"r2"}, nil, {"r3"}}},
		{"committers share",
			[]string{"c1 enter", "c2 enter", "c1 leave", "c2 leave"},
			[][]string{{"c1"}, {"c2"}, nil, nil}},
		{"a committer waits for readers, a later reader waits for the committer",
			[]string{"r1 enter", "c1 enter", "r2 enter", "r1 leave", "c1 leave"},
			[][]string{{"r1"}, nil, nil, {"c1"}, {"r2"}}},
		{"a reader waits for committers, a later committer waits for the reader",
			[]string{"c1 enter", "r1 enter", "c2 enter", "c1 leave", "r1 leave"},
			[][]string{{"c1"}, nil, nil, {"r1"}, {"c2"}}},
		{"every waiting reader is admitted together, FIFO",
			[]string{"c1 enter", "r1 enter", "r2 enter", "r3 enter", "c1 leave"},
			[][]string{{"c1"}, nil, nil, nil, {"r1", "r2", "r3"}}},
		{"the gate passes only when all holders left",
			[]string{"r1 enter", "r2 enter", "c1 enter", "r1 leave", "r2 leave"},
			[][]string{{"r1"}, {"r2"}, nil, nil, {"c1"}}},
		{"a withdrawn committer lets the readers queued behind it in",
			[]string{"r1 enter", "c1 enter", "r2 enter", "c1 leave"},
			[][]string{{"r1"}, nil, nil, {"r2"}}},
		{"a crashed holder releases the gate",
			[]string{"c1 enter", "r1 enter", "c1 crash"},
			[][]string{{"c1"}, nil, {"r1"}}},
		{"a crash releases grants and withdraws waits",
			[]string{"r1 enter", "c1 enter", "c1 crash", "r2 enter"},
			[][]string{{"r1"}, nil, {}, {"r2"}}},
		{"turns alternate while both groups keep coming",
			[]string{"r1 enter", "c1 enter", "r2 enter", "r1 leave", "c2 enter", "c1 leave", "r3 enter", "r2 leave", "c2 leave"},
			[][]string{{"r1"}, nil, nil, {"c1"}, nil, {"r2"}, nil, {"c2"}, {"r3"}}},
	} {
		t.Run(tc.name, func(t *testing.T) { runGateSpec(t, tc.steps, tc.granted) })
	}
}

// Under a continuous stream of readers that overlap (there is always a reader
// holding the gate), a committer still gets in after the readers that held
// the gate when it arrived.
func TestGateCommitterNotStarved(t *testing.T) {
	g := newGate(newMetrics())
	conn := func() *serverConn { return &serverConn{} }
	type holder struct {
		c  *serverConn
		id uint64
	}
	var holding []holder
	var id uint64
	enterReader := func() []*gateEntry {
		id++
		c := conn()
		got, _ := g.enter(c, id, gtmproto.GateReader)
		for _, e := range got {
			holding = append(holding, holder{e.conn, e.id})
		}
		return got
	}
	enterReader()
	enterReader()
	cc := conn()
	id++
	if got, _ := g.enter(cc, id, gtmproto.GateCommitter); len(got) != 0 {
		t.Fatal("committer admitted while readers hold the gate")
	}
	committerIn := false
	for i := 0; i < 1000 && !committerIn; i++ {
		// A new reader arrives, then the oldest holder leaves.
		if got := enterReader(); len(got) != 0 && !committerIn {
			t.Fatalf("reader %d admitted while a committer waits", i)
		}
		if len(holding) == 0 {
			t.Fatal("no holder left")
		}
		h := holding[0]
		holding = holding[1:]
		for _, e := range g.leave(h.c, h.id) {
			if e.conn == cc {
				committerIn = true
			}
		}
	}
	if !committerIn {
		t.Fatal("committer starved by a stream of readers")
	}
	st := g.stats()
	if st.active != gtmproto.GateCommitter || st.holders != 1 || st.readersWaiting == 0 {
		t.Fatalf("gate after the committer got in: %+v", st)
	}
	// When it leaves, the readers that queued meanwhile all get in.
	waiting := st.readersWaiting
	if got := g.dropConn(cc); len(got) != waiting {
		t.Fatalf("committer left: %d readers admitted, %d waited", len(got), waiting)
	}
}

// A committer whose connection breaks keeps the gate for the linger: the
// COMMIT PREPAREDs it sent still arrive, and a reader that passed the gate
// before they did could see the commit on some datanodes only. A reader's
// grant ends with its connection at once.
func TestGateCommitterLingers(t *testing.T) {
	g := newGate(newMetrics())
	g.linger = 50 * time.Millisecond
	late := make(chan []*gateEntry, 1)
	g.late = func(granted []*gateEntry) { late <- granted }
	c1, c2, r1, r2 := &serverConn{}, &serverConn{}, &serverConn{}, &serverConn{}
	if got, _ := g.enter(c1, 1, gtmproto.GateCommitter); len(got) != 1 {
		t.Fatalf("committer not granted: %v", got)
	}
	if got, _ := g.enter(r1, 1, gtmproto.GateReader); len(got) != 0 {
		t.Fatalf("reader granted beside a committer")
	}
	start := time.Now()
	if got := g.dropConn(c1); len(got) != 0 {
		t.Fatalf("the committer's crash granted %d at once", len(got))
	}
	// Committers still share the gate meanwhile (a resolver finishing it).
	// (The reader waits, so a new committer queues behind it.)
	g.enter(c2, 1, gtmproto.GateCommitter)
	select {
	case got := <-late:
		if len(got) != 1 || got[0].conn != r1 || time.Since(start) < 50*time.Millisecond {
			t.Fatalf("after the linger: %d granted after %v", len(got), time.Since(start))
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("the lingering grant never ended (gate %+v)", g.stats())
	}
	// A reader's grant ends with its connection.
	g.leave(r1, 1)
	g.enter(r2, 1, gtmproto.GateReader)
	if st := g.stats(); st.active != gtmproto.GateCommitter || st.holders != 1 {
		t.Fatalf("gate %+v: want the queued committer holding", st)
	}
}
