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
	// A port whose socket's lock file is there is not found.
	dir := t.TempDir()
	defer func(d []string) { socketDirs = d }(socketDirs)
	socketDirs = []string{dir}
	ports, err := FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	if socketInUse(ports[0]) {
		t.Fatalf("port %d seen in use in an empty directory", ports[0])
	}
	if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf(".s.PGSQL.%d.lock", ports[0])), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if !socketInUse(ports[0]) {
		t.Fatalf("the lock file of port %d is not seen", ports[0])
	}
}
