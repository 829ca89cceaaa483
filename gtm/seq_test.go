package gtm

import (
	"errors"
	"math"
	"sync"
	"testing"

	"github.com/xlgo/xlgo/gtm/gtmproto"
)

func seqDef(name string) gtmproto.SeqDef {
	return gtmproto.SeqDef{Name: name, Start: 1, Increment: 1, MinValue: 1, MaxValue: math.MaxInt64}
}

// wantCode checks that err is a refusal with code and, when msg is set, that message.
func wantCode(t *testing.T, err error, code gtmproto.ErrorCode, msg string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want code %d (%s)", code, msg)
	}
	if got := errorCode(err); got != code {
		t.Fatalf("error %q has code %d, want %d", err, got, code)
	}
	if msg != "" && err.Error() != msg {
		t.Fatalf("error %q, want %q", err, msg)
	}
}

type rng struct{ first, n, incr int64 }

func nextRangeOK(t *testing.T, s *Server, name string, count int64) rng {
	t.Helper()
	f, n, i, err := s.SeqNextRange(name, count)
	if err != nil {
		t.Fatalf("SeqNextRange(%s, %d): %v", name, count, err)
	}
	return rng{f, n, i}
}

func TestSequenceSemantics(t *testing.T) {
	s := openServer(t, t.TempDir(), nil)
	if err := s.SeqCreate(seqDef("db.public.s"), false); err != nil {
		t.Fatal(err)
	}
	wantCode(t, s.SeqCreate(seqDef("db.public.s"), false), gtmproto.CodeDuplicateObject, `relation "db.public.s" already exists`)
	if err := s.SeqCreate(seqDef("db.public.s"), true); err != nil {
		t.Fatalf("IF NOT EXISTS: %v", err)
	}
	if got := nextRangeOK(t, s, "db.public.s", 10); got != (rng{1, 10, 1}) {
		t.Fatalf("first range %+v", got)
	}
	if got := nextRangeOK(t, s, "db.public.s", 5); got != (rng{11, 5, 1}) {
		t.Fatalf("second range %+v", got)
	}
	_, _, _, err := s.SeqNextRange("db.public.nosuch", 1)
	wantCode(t, err, gtmproto.CodeUndefinedObject, `sequence "db.public.nosuch" does not exist`)

	// setval(s, 100) then nextval = 101; setval(s, 100, false) then nextval = 100.
	if err := s.SeqSetval("db.public.s", 100, true); err != nil {
		t.Fatal(err)
	}
	if got := nextRangeOK(t, s, "db.public.s", 1); got.first != 101 {
		t.Fatalf("after setval(100): %+v", got)
	}
	if err := s.SeqSetval("db.public.s", 100, false); err != nil {
		t.Fatal(err)
	}
	if got := nextRangeOK(t, s, "db.public.s", 3); got != (rng{100, 3, 1}) {
		t.Fatalf("after setval(100, false): %+v", got)
	}
	wantCode(t, s.SeqSetval("db.public.s", 0, true), gtmproto.CodeOutOfRange,
		`setval: value 0 is out of bounds for sequence "db.public.s" (1..9223372036854775807)`)

	// A bounded sequence: the range stops at MAXVALUE, then nextval fails.
	small := gtmproto.SeqDef{Name: "x", Start: 1, Increment: 3, MinValue: 1, MaxValue: 10}
	if err := s.SeqCreate(small, false); err != nil {
		t.Fatal(err)
	}
	if got := nextRangeOK(t, s, "x", 100); got != (rng{1, 4, 3}) { // 1 4 7 10
		t.Fatalf("bounded range %+v", got)
	}
	_, _, _, err = s.SeqNextRange("x", 1)
	wantCode(t, err, gtmproto.CodeSequenceLimit, `nextval: reached maximum value of sequence "x" (10)`)
	if gtmproto.CodeSequenceLimit.SQLState() != "2200H" {
		t.Fatal("limit is not 2200H")
	}

	// CYCLE wraps to MINVALUE.
	if err := s.SeqAlter(gtmproto.SeqDef{Name: "x", Cycle: true}, gtmproto.SeqFieldCycle, 0, false); err != nil {
		t.Fatal(err)
	}
	if got := nextRangeOK(t, s, "x", 2); got != (rng{1, 2, 3}) {
		t.Fatalf("after cycle %+v", got)
	}
	// RESTART WITH, and the checks of ALTER.
	if err := s.SeqAlter(gtmproto.SeqDef{Name: "x"}, gtmproto.SeqFieldRestartWith, 9, false); err != nil {
		t.Fatal(err)
	}
	if got := nextRangeOK(t, s, "x", 5); got != (rng{9, 1, 3}) {
		t.Fatalf("after restart with 9: %+v", got)
	}
	wantCode(t, s.SeqAlter(gtmproto.SeqDef{Name: "x"}, gtmproto.SeqFieldRestartWith, 11, false), gtmproto.CodeInvalidParameter,
		"RESTART value (11) cannot be greater than MAXVALUE (10)")
	wantCode(t, s.SeqAlter(gtmproto.SeqDef{Name: "x", Increment: 0}, gtmproto.SeqFieldIncrement, 0, false), gtmproto.CodeInvalidParameter,
		"INCREMENT must not be zero")
	wantCode(t, s.SeqAlter(gtmproto.SeqDef{Name: "nosuch"}, gtmproto.SeqFieldCycle, 0, false), gtmproto.CodeUndefinedObject, "")
	if err := s.SeqAlter(gtmproto.SeqDef{Name: "nosuch"}, gtmproto.SeqFieldCycle, 0, true); err != nil {
		t.Fatalf("ALTER IF EXISTS: %v", err)
	}

	// Descending sequences stop at MINVALUE.
	down := gtmproto.SeqDef{Name: "down", Start: -1, Increment: -1, MinValue: -3, MaxValue: -1}
	if err := s.SeqCreate(down, false); err != nil {
		t.Fatal(err)
	}
	if got := nextRangeOK(t, s, "down", 10); got != (rng{-1, 3, -1}) {
		t.Fatalf("descending %+v", got)
	}
	_, _, _, err = s.SeqNextRange("down", 1)
	wantCode(t, err, gtmproto.CodeSequenceLimit, `nextval: reached minimum value of sequence "down" (-3)`)

	// The whole int64 range, both ways, without overflow.
	full := gtmproto.SeqDef{Name: "full", Start: math.MinInt64, Increment: math.MaxInt64, MinValue: math.MinInt64, MaxValue: math.MaxInt64}
	if err := s.SeqCreate(full, false); err != nil {
		t.Fatal(err)
	}
	if got := nextRangeOK(t, s, "full", 10); got != (rng{math.MinInt64, 3, math.MaxInt64}) {
		t.Fatalf("full range %+v", got)
	}
	_, _, _, err = s.SeqNextRange("full", 1)
	wantCode(t, err, gtmproto.CodeSequenceLimit, "")

	// Bad definitions.
	for _, d := range []gtmproto.SeqDef{
		{Name: "b1", Start: 1, Increment: 0, MinValue: 1, MaxValue: 10},
		{Name: "b2", Start: 1, Increment: 1, MinValue: 10, MaxValue: 10},
		{Name: "b3", Start: 0, Increment: 1, MinValue: 1, MaxValue: 10},
		{Name: "b4", Start: 11, Increment: 1, MinValue: 1, MaxValue: 10},
	} {
		wantCode(t, s.SeqCreate(d, false), gtmproto.CodeInvalidParameter, "")
	}

	// Rename and drop.
	wantCode(t, s.SeqRename("db.public.s", "x"), gtmproto.CodeDuplicateObject, "")
	if err := s.SeqRename("db.public.s", "db.public.t"); err != nil {
		t.Fatal(err)
	}
	if got := nextRangeOK(t, s, "db.public.t", 1); got.first != 103 {
		t.Fatalf("after rename %+v", got)
	}
	wantCode(t, s.SeqDrop("db.public.s", false), gtmproto.CodeUndefinedObject, "")
	if err := s.SeqDrop("db.public.s", true); err != nil {
		t.Fatal(err)
	}
	if err := s.SeqDrop("db.public.t", false); err != nil {
		t.Fatal(err)
	}
	_, _, _, err = s.SeqNextRange("db.public.t", 1)
	wantCode(t, err, gtmproto.CodeUndefinedObject, "")
	_, _, _, err = s.SeqNextRange("x", 0)
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("range of 0: %v", err)
	}
}

func TestSequencesSurviveRestartAndCrash(t *testing.T) {
	dir := t.TempDir()
	seen := map[int64]bool{}
	take := func(s *Server) {
		t.Helper()
		for range 5 {
			r := nextRangeOK(t, s, "s", 7)
			for i := range r.n {
				v := r.first + i*r.incr
				if seen[v] {
					t.Fatalf("value %d handed out twice", v)
				}
				seen[v] = true
			}
		}
	}
	s := openServer(t, dir, nil)
	if err := s.SeqCreate(seqDef("s"), false); err != nil {
		t.Fatal(err)
	}
	if err := s.SeqCreate(gtmproto.SeqDef{Name: "gone", Start: 5, Increment: 1, MinValue: 1, MaxValue: 9}, false); err != nil {
		t.Fatal(err)
	}
	if err := s.SeqRename("gone", "renamed"); err != nil {
		t.Fatal(err)
	}
	for round := range 4 {
		take(s)
		if round%2 == 0 {
			crash(s)
		} else if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s = openServer(t, dir, nil)
	}
	def, last, called, err := s.SeqCurrent("s")
	if err != nil || def.Name != "s" || last != 4*5*7 || !called {
		t.Fatalf("SeqCurrent = %+v %d %v %v", def, last, called, err)
	}
	if _, _, _, err := s.SeqCurrent("renamed"); err != nil {
		t.Fatalf("renamed sequence lost: %v", err)
	}
}

func TestSequenceConcurrentRanges(t *testing.T) {
	s := openServer(t, t.TempDir(), nil)
	if err := s.SeqCreate(seqDef("s"), false); err != nil {
		t.Fatal(err)
	}
	const workers, each = 8, 100
	var mu sync.Mutex
	seen := map[int64]bool{}
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				f, n, incr, err := s.SeqNextRange("s", 3)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for i := range n {
					v := f + i*incr
					if seen[v] {
						t.Errorf("value %d twice", v)
					}
					seen[v] = true
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != workers*each*3 {
		t.Fatalf("%d values, want %d", len(seen), workers*each*3)
	}
}
