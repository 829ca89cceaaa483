package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/xlgo/xlgo/auth"
	"github.com/xlgo/xlgo/catalog"
	"github.com/xlgo/xlgo/deadlock"
	"github.com/xlgo/xlgo/resolver"
)

// startDeadlockDetector runs the distributed deadlock detector every interval
// over the coordinators and datanodes of this coordinator's node list.
func startDeadlockDetector(ctx context.Context, o options, nodes *catalog.NodeStore, logger *slog.Logger) error {
	if o.deadlockInterval <= 0 {
		return nil
	}
	user := o.resolveUser
	if user == "" {
		user = resolver.DefaultUser()
	}
	d := &deadlock.Detector{
		Self:   o.name,
		User:   user,
		Logger: logger,
		Coordinators: func() []deadlock.Node {
			var out []deadlock.Node
			self := false
			for _, n := range nodes.Nodes() {
				if n.Type == "C" {
					out = append(out, deadlock.Node{Name: n.Name, Host: n.Host, Port: n.Port})
					self = self || n.Name == o.name
				}
			}
			if !self {
				// Not registered in its own node list (yet): reach itself on loopback.
				out = append(out, deadlock.Node{Name: o.name, Host: "127.0.0.1", Port: o.port})
			}
			return out
		},
		Datanodes: func() []deadlock.Node {
			var out []deadlock.Node
			for _, n := range nodes.Datanodes() {
				out = append(out, deadlock.Node{Name: n.Name, Host: n.Host, Port: n.Port})
			}
			return out
		},
	}
	if o.datanodePassfile != "" {
		pf, err := auth.LoadPassfile(o.datanodePassfile)
		if err != nil {
			return err
		}
		d.Password = func(host string, port int, db, user string) string {
			pw, _ := pf.Lookup(host, port, db, user)
			return pw
		}
	}
	go d.Run(ctx, o.deadlockInterval)
	return nil
}

// defaultDeadlockInterval is how often the detector looks for distributed deadlocks.
const defaultDeadlockInterval = time.Second
