package pgha

import (
	"context"
	"fmt"
)

// The gtm's records of a datanode's failover and of its synchronous standby
// (gtm claims: the first value of a key holds). The coordinators write and
// read them (engine/failover.go), and so does xlctl (cluster/standby.go).

// FailoverKey is the claim of the failover of datanode node away from addr
// (host:port); its value names who carries it out ("COORDINATOR TO-ADDR",
// or "xlctl TO-ADDR").
func FailoverKey(node, addr string) string { return "failover " + node + " from " + addr }

// FailoverDoneKey holds the promoted standby's address once it serves.
func FailoverDoneKey(node, addr string) string { return FailoverKey(node, addr) + " done" }

// SyncKey is the k-th change (k = 1, 2, ...) of whether datanode node at addr
// waits for its standby at standby: "async" for odd k, "sync" for even k.
func SyncKey(node, addr, standby string, k int) string {
	return fmt.Sprintf("sync %s %s->%s #%d", node, addr, standby, k)
}

// Claim is a gtm claim (an empty value only reads the key).
type Claim func(ctx context.Context, key, value string) (string, error)

// SyncState reads the gtm's record of whether datanode node at addr waits
// for its standby at standby: k changes so far, async when the last one
// made it stop.
func SyncState(ctx context.Context, claim Claim, node, addr, standby string) (k int, async bool, err error) {
	for {
		v, err := claim(ctx, SyncKey(node, addr, standby, k+1), "")
		if err != nil {
			return 0, false, err
		}
		if v == "" {
			return k, k%2 == 1, nil
		}
		k++
	}
}
