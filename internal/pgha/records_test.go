package pgha

import (
	"context"
	"testing"
)

// claims is a gtm's claim table: the first value of a key holds.
type claims map[string]string

func (c claims) claim(_ context.Context, key, value string) (string, error) {
	if v, ok := c[key]; ok || value == "" {
		return v, nil
	}
	c[key] = value
	return value, nil
}

// A datanode fails over from A to B, A rejoins as B's standby, and a second
// failover takes it back to A: a coordinator at A stays at A, one that
// missed both failovers at A too, one that missed the second one at B
// follows it to A, and a datanode added later at C under the same name is
// not sent anywhere.
func TestFailoversFollowTheirTerms(t *testing.T) {
	ctx := context.Background()
	g := claims{}
	do := func(term int, from, to string) {
		if v, _ := g.claim(ctx, FailoverKey("dn1", term), FailoverClaim("coord1", from, to)); v != FailoverClaim("coord1", from, to) {
			t.Fatalf("term %d claimed by %q", term, v)
		}
		g.claim(ctx, FailoverDoneKey("dn1", term), to)
	}
	f := &Failovers{Node: "dn1"}
	if err := f.Read(ctx, g.claim); err != nil || f.Term() != 0 || f.Follow("A") != "A" {
		t.Fatalf("no failovers: term %d, %v", f.Term(), err)
	}
	do(1, "A", "B")
	if f.Read(ctx, g.claim); f.Term() != 1 || f.Follow("A") != "B" || f.Follow("B") != "B" {
		t.Fatalf("after A->B: term %d, A -> %s", f.Term(), f.Follow("A"))
	}
	do(2, "B", "A")
	// A second claim of a term is not taken.
	if v, _ := g.claim(ctx, FailoverKey("dn1", 2), FailoverClaim("coord2", "B", "C")); v != FailoverClaim("coord1", "B", "A") {
		t.Fatalf("term 2 claimed twice: %q", v)
	}
	// A claimed term without its done record is not a failover yet.
	g.claim(ctx, FailoverKey("dn1", 3), FailoverClaim("coord2", "A", "B"))
	f.Read(ctx, g.claim)
	fresh := &Failovers{Node: "dn1"}
	fresh.Read(ctx, g.claim)
	for _, tc := range []struct{ at, want string }{{"A", "A"}, {"B", "A"}, {"C", "C"}} {
		if got := f.Follow(tc.at); got != tc.want || fresh.Follow(tc.at) != tc.want {
			t.Errorf("at %s: follows to %s (fresh reader: %s), want %s", tc.at, got, fresh.Follow(tc.at), tc.want)
		}
	}
	if f.Term() != 2 || fresh.Term() != 2 {
		t.Errorf("terms %d and %d, want 2", f.Term(), fresh.Term())
	}
	if who, from, to := ParseFailoverClaim(FailoverClaim("xlctl", "[::1]:5432", "h:1")); who != "xlctl" || from != "[::1]:5432" || to != "h:1" {
		t.Errorf("parsed %q %q %q", who, from, to)
	}
	// Sync records of one pair in two terms are apart.
	g.claim(ctx, SyncKey("dn1", 0, "A", "B", 1), "async")
	if _, async, _ := SyncState(ctx, g.claim, "dn1", 2, "A", "B"); async {
		t.Error("term 0's async record holds in term 2")
	}
	if k, async, _ := SyncState(ctx, g.claim, "dn1", 0, "A", "B"); k != 1 || !async {
		t.Errorf("term 0: k %d async %v", k, async)
	}
}
