package cluster

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// FreePorts never finds a port twice in a process, nor one whose Unix
// socket a node elsewhere (a test host's namespace) holds.
func TestFreePortsDistinct(t *testing.T) {
	seen := map[int]bool{}
	for range 3 {
		ports, err := FreePorts(20)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ports {
			if seen[p] {
				t.Fatalf("port %d found twice", p)
			}
			seen[p] = true
		}
	}
	const port = 1 // never a test cluster's
	lock := filepath.Join(os.TempDir(), fmt.Sprintf(".s.PGSQL.%d.lock", port))
	if socketInUse(port) {
		t.Skipf("%s exists", lock)
	}
	if err := os.WriteFile(lock, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(lock)
	if !socketInUse(port) {
		t.Fatalf("a socket lock file %s is not seen", lock)
	}
}
