package cluster

import (
	"context"
	"time"

	"github.com/xlgo/xlgo/resolver"
)

// gtmDialTimeout bounds how long xlctl waits for the GTM when resolving.
const gtmDialTimeout = 5 * time.Second

// Resolver returns an in-doubt transaction resolver for the cluster's
// datanodes, connecting as ClientUser, with its GTM client; close releases
// it. When the GTM cannot be reached the resolver has no GTM (it can still
// list) and gtmErr says why.
func (c *Cluster) Resolver(ctx context.Context) (r *resolver.Resolver, close func(), gtmErr error) {
	var dns []resolver.Datanode
	for _, n := range c.Config.Datanodes {
		dns = append(dns, resolver.Datanode{Name: n.Name, Host: n.Host, Port: n.Port})
	}
	r = resolver.New(nil, func() []resolver.Datanode { return dns }, c.Config.ClusterName, c.ClientUser(), nil)
	close = func() {}
	g, err := c.dialGTM(ctx, gtmDialTimeout)
	if err != nil {
		return r, close, err
	}
	r.GTM = g
	return r, func() { g.Close() }, nil
}

// InDoubt lists the prepared transactions of the cluster on its datanodes,
// each with the GTM's decision, and what could not be asked.
func (c *Cluster) InDoubt(ctx context.Context) ([]resolver.InDoubt, []error) {
	r, closeFn, gtmErr := c.Resolver(ctx)
	defer closeFn()
	list, problems := r.InDoubt(ctx)
	if gtmErr != nil {
		problems = append(problems, gtmErr)
		for i := range list {
			list[i].DecisionErr = gtmErr
		}
	}
	return list, problems
}
