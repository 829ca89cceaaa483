package testhosts_test

import (
	"context"
	"fmt"
	"log"

	"github.com/xlgo/xlgo/internal/testhosts"
)

// Three hosts of half a core each: a command run on h1 directly, and one run
// on h2 over ssh as an operator's tool does (`ssh -F CONFIG h2 ...` from a
// shell does the same).
func Example() {
	ctx := context.Background()
	nt, err := testhosts.New(ctx, 3, testhosts.Options{CPU: 0.5, SSH: true})
	if err != nil {
		log.Fatal(err)
	}
	defer nt.Close()

	addrs, err := nt.Host("h1").Command(ctx, "ip", "-4", "-brief", "addr").Output()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("h1 (%s):\n%s", nt.Host("h1").Addr(), addrs)

	cgroup, err := nt.Host("h2").SSH(ctx, "cat /proc/self/cgroup").Output()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("h2 over ssh (config %s):\n%s", nt.SSHConfig(), cgroup)
}
