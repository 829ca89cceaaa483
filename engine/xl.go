package engine

import (
	"context"
	"strings"

	"github.com/xlgo/xlgo/catalog"
	"github.com/xlgo/xlgo/dialect"
	"github.com/xlgo/xlgo/executor"
	"github.com/xlgo/xlgo/pgerr"
	"github.com/xlgo/xlgo/planner"
	"github.com/xlgo/xlgo/pooler"
	"github.com/xlgo/xlgo/server"
)

func quoteLiteral(s string) string { return dialect.QuoteLiteral(s) }
func quoteIdent(s string) string   { return dialect.QuoteIdent(s) }

// xlStatement runs a Postgres-XL statement and returns its command tag.
func (s *session) xlStatement(ctx context.Context, st dialect.Statement, w server.ResultWriter) (string, error) {
	switch x := st.(type) {
	case *dialect.CreateNode:
		n := catalog.Node{Name: x.Name, Type: "D", Host: "localhost", Port: 5432}
		if err := applyNodeOptions(&n, x.Options); err != nil {
			return "", err
		}
		if err := s.co.Nodes.CreateNode(n); err != nil {
			return "", err
		}
		return "CREATE NODE", nil
	case *dialect.AlterNode:
		moved := false
		err := s.co.Nodes.AlterNode(x.Name, func(n *catalog.Node) error {
			host, port := n.Host, n.Port
			err := applyNodeOptions(n, x.Options)
			moved = n.IsDatanode() && (n.Host != host || n.Port != port)
			return err
		})
		if err != nil {
			return "", err
		}
		if moved && s.co.ResolveSoon != nil {
			// A datanode at a new address (a promoted standby): its
			// prepared transactions are looked at now.
			s.co.ResolveSoon()
		}
		return "ALTER NODE", nil
	case *dialect.DropNode:
		if x.Name == s.co.Name {
			return "", pgerr.New(pgerr.InvalidObjectDefinition, "PGXC Node %s: cannot drop local node", x.Name)
		}
		if err := s.co.Nodes.DropNode(x.Name, x.IfExists); err != nil {
			return "", err
		}
		return "DROP NODE", nil
	case *dialect.CreateNodeGroup:
		if err := s.co.Nodes.CreateGroup(catalog.Group{Name: x.Name, Members: x.Members}); err != nil {
			return "", err
		}
		return "CREATE NODE GROUP", nil
	case *dialect.DropNodeGroup:
		if err := s.co.Nodes.DropGroup(x.Name); err != nil {
			return "", err
		}
		return "DROP NODE GROUP", nil
	case *dialect.ExecuteDirect:
		return s.executeDirect(ctx, x, w)
	case *dialect.CleanConnection:
		n := s.co.Pool.CloseIdle(func(k pooler.Key) bool {
			if x.Database != "" && k.Database != x.Database {
				return false
			}
			if x.User != "" && k.User != x.User {
				return false
			}
			if len(x.Nodes) > 0 {
				for _, nn := range x.Nodes {
					if nn == k.Node {
						return true
					}
				}
				return false
			}
			return true
		})
		s.log.Info("clean connection", "closed", n)
		return "CLEAN CONNECTION", nil
	case *dialect.CreateBarrier:
		if s.tx.active {
			return "", pgerr.New(pgerr.ActiveSqlTransaction, "CREATE BARRIER cannot run inside a transaction block")
		}
		id := x.ID
		if id == "" {
			id = "xlgo_barrier"
		}
		for _, n := range s.datanodeNames() {
			if err := s.outsideTx(ctx, n, "SELECT pg_create_restore_point("+quoteLiteral(id)+")"); err != nil {
				return "", err
			}
		}
		return "CREATE BARRIER", nil
	case *dialect.PauseCluster, *dialect.UnpauseCluster:
		return "", planner.Unsupported("PAUSE CLUSTER / UNPAUSE CLUSTER are not supported yet")
	case *dialect.AlterTableDistribution:
		return s.alterDistribution(ctx, x)
	}
	return "", planner.Unsupported("this statement")
}

func applyNodeOptions(n *catalog.Node, o dialect.NodeOptions) error {
	if o.Type != nil {
		switch strings.ToLower(*o.Type) {
		case "coordinator":
			n.Type = "C"
		case "datanode":
			n.Type = "D"
		default:
			return pgerr.New(pgerr.InvalidParameterValue, "type value is incorrect, specify 'coordinator or 'datanode'")
		}
	}
	if o.Host != nil {
		n.Host = *o.Host
	}
	if o.Port != nil {
		n.Port = *o.Port
	}
	if o.Primary != nil {
		n.Primary = *o.Primary
	}
	if o.Preferred != nil {
		n.Preferred = *o.Preferred
	}
	if o.StandbyHost != nil {
		n.StandbyHost = *o.StandbyHost
		if n.StandbyHost == "" {
			n.StandbyPort = 0
		}
	}
	if o.StandbyPort != nil {
		n.StandbyPort = *o.StandbyPort
	}
	return nil
}

// executeDirect runs SQL as it is on the named datanodes.
func (s *session) executeDirect(ctx context.Context, x *dialect.ExecuteDirect, w server.ResultWriter) (string, error) {
	for _, name := range x.Nodes {
		n, ok := s.co.Nodes.Node(name)
		if !ok {
			return "", pgerr.New(pgerr.UndefinedObject, "PGXC Node %s: object not defined", name)
		}
		if !n.IsDatanode() {
			return "", planner.Unsupported("EXECUTE DIRECT on a coordinator")
		}
	}
	var rq = &planner.RemoteQuery{Nodes: x.Nodes, SQL: map[string]string{}, Write: true}
	for _, n := range x.Nodes {
		rq.SQL[n] = x.SQL
	}
	if !s.tx.active && len(x.Nodes) == 1 {
		tag, err := executor.Run(ctx, rq, s, w)
		return tag, err
	}
	var tag string
	err := s.autocommit(ctx, func() error {
		var err error
		tag, err = executor.Run(ctx, rq, s, w)
		return err
	})
	return tag, err
}
