package txtest

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/xlgo/xlgo/cluster/clustertest"
)

// TestCommitNotices: the datanodes of a distributed commit prepare (and so
// run its deferred triggers) at once; the notices they raise reach the
// client whole, each once, one after the other.
func TestCommitNotices(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Coordinators: 1, Datanodes: 2})
	admin := connect(t, c.CoordDSN(0, "postgres"), true)
	keys := twoNodeTable(t, admin, "nt")
	exec(t, admin,
		`CREATE FUNCTION nt_note() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE NOTICE 'deferred check of row %', NEW.id; RETURN NULL; END $$`,
		"CREATE CONSTRAINT TRIGGER nt_deferred AFTER UPDATE ON nt DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION nt_note()")
	var mu sync.Mutex
	var got []string
	cfg, err := pgx.ParseConfig(c.CoordDSN(0, "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) {
		mu.Lock()
		got = append(got, n.Message)
		mu.Unlock()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close(context.Background())
	var want []string
	for _, ids := range keys {
		for _, id := range ids {
			want = append(want, fmt.Sprintf("deferred check of row %d", id))
		}
	}
	sort.Strings(want)
	for round := 0; round < 20; round++ {
		mu.Lock()
		got = nil
		mu.Unlock()
		exec(t, w, "BEGIN", "UPDATE nt SET v = v + 1", "COMMIT")
		mu.Lock()
		g := append([]string(nil), got...)
		mu.Unlock()
		sort.Strings(g)
		if strings.Join(g, "\n") != strings.Join(want, "\n") {
			t.Fatalf("round %d: notices %q, want %q", round, g, want)
		}
	}
	report(t, "20 commits on both datanodes, %d notices each from their deferred triggers, all received whole", len(want))
}
