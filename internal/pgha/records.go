package pgha

import (
	"context"
	"fmt"
	"strings"
)

// The gtm's records of a datanode's failovers and of its synchronous
// standby (gtm claims: the first value of a key holds, for good). The
// coordinators write and read them (engine/failover.go), and so does xlctl
// (cluster/standby.go).
//
// A datanode's failovers are numbered: its term-th failover (term 1, 2, ...)
// is claimed under FailoverKey(node, term) by whoever carries it out, with
// the value FailoverClaim(who, from, to), and FailoverDoneKey(node, term)
// holds to once the promoted standby serves. Numbering, not keying by
// address, matters: a datanode fails over from A to B, its old primary
// rejoins as the standby, and a second failover takes it from B back to A;
// a record "failed over from A" must not then send it from A to B again.

// FailoverKey is the claim of datanode node's term-th failover.
func FailoverKey(node string, term int) string { return fmt.Sprintf("failover %s #%d", node, term) }

// FailoverDoneKey holds the promoted standby's address once it serves.
func FailoverDoneKey(node string, term int) string { return FailoverKey(node, term) + " done" }

// FailoverClaim is the value of a failover's claim: who carries it out
// (a coordinator's name, or xlctl) from which address to which.
func FailoverClaim(who, from, to string) string { return who + " " + from + " " + to }

// Failover is one done failover of a datanode.
type Failover struct{ Who, From, To string }

// Failovers are the done failovers of a datanode, read from the gtm term by
// term; a done term never changes, so each is read once.
type Failovers struct {
	Node  string
	Terms []Failover
}

// Read reads the failovers done since the last Read.
func (f *Failovers) Read(ctx context.Context, claim Claim) error {
	for {
		t := len(f.Terms) + 1
		to, err := claim(ctx, FailoverDoneKey(f.Node, t), "")
		if err != nil || to == "" {
			return err
		}
		v, err := claim(ctx, FailoverKey(f.Node, t), "")
		if err != nil {
			return err
		}
		who, from, _ := ParseFailoverClaim(v)
		f.Terms = append(f.Terms, Failover{Who: who, From: from, To: to})
	}
}

// Term is how many failovers of the datanode are done.
func (f *Failovers) Term() int { return len(f.Terms) }

// Follow is where a datanode last known at addr serves now: every failover
// away from where it was then took it to that failover's standby.
func (f *Failovers) Follow(addr string) string {
	for _, t := range f.Terms {
		if t.From == addr {
			addr = t.To
		}
	}
	return addr
}

// ParseFailoverClaim splits a failover claim's value.
func ParseFailoverClaim(v string) (who, from, to string) {
	parts := strings.Fields(v)
	for len(parts) < 3 {
		parts = append(parts, "")
	}
	return parts[0], parts[1], parts[2]
}

// SyncKey is the k-th change (k = 1, 2, ...) of whether datanode node at addr
// waits for its standby at standby, in the node's term (failovers done):
// "async" for odd k, "sync" for even k.
func SyncKey(node string, term int, addr, standby string, k int) string {
	return fmt.Sprintf("sync %s #%d %s->%s #%d", node, term, addr, standby, k)
}

// Claim is a gtm claim (an empty value only reads the key).
type Claim func(ctx context.Context, key, value string) (string, error)

// SyncState reads the gtm's record of whether datanode node at addr waits
// for its standby at standby in its term: k changes so far, async when the
// last one made it stop.
func SyncState(ctx context.Context, claim Claim, node string, term int, addr, standby string) (k int, async bool, err error) {
	for {
		v, err := claim(ctx, SyncKey(node, term, addr, standby, k+1), "")
		if err != nil {
			return 0, false, err
		}
		if v == "" {
			return k, k%2 == 1, nil
		}
		k++
	}
}
