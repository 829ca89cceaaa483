package resolver

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

var lookupEnv = os.Getenv

// conns holds one run's connections, one per (datanode, database).
type conns struct {
	r     *Resolver
	list  []Datanode // the datanodes of this run, in the order given
	nodes map[string]Datanode
	open  map[[2]string]*pgconn.PgConn
}

func (r *Resolver) newConns() *conns {
	cs := &conns{r: r, nodes: map[string]Datanode{}, open: map[[2]string]*pgconn.PgConn{}}
	if r.Datanodes != nil {
		cs.list = r.Datanodes()
	}
	for _, n := range cs.list {
		cs.nodes[n.Name] = n
	}
	return cs
}

func (cs *conns) close() {
	for _, c := range cs.open {
		c.Close(context.Background())
	}
}

// get returns a connection to database db on node, opening it when needed.
func (cs *conns) get(ctx context.Context, node, db string) (*pgconn.PgConn, error) {
	key := [2]string{node, db}
	if c := cs.open[key]; c != nil && !c.IsClosed() {
		return c, nil
	}
	n, ok := cs.nodes[node]
	if !ok {
		return nil, fmt.Errorf("datanode %s is not in the node list", node)
	}
	dsn := fmt.Sprintf("host=%s port=%d user=%s dbname=%s sslmode=disable connect_timeout=10 application_name=%s",
		connValue(n.Host), n.Port, connValue(cs.r.User), connValue(db), connValue("xlgo resolver"))
	cfg, err := pgconn.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, cs.r.timeout())
	defer cancel()
	c, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	cs.open[key] = c
	return c, nil
}

// query runs one parameterised query and returns its rows as text.
func (cs *conns) query(ctx context.Context, node, db, sql string, args ...string) ([][]string, error) {
	c, err := cs.get(ctx, node, db)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, cs.r.timeout())
	defer cancel()
	params := make([][]byte, len(args))
	for i, a := range args {
		params[i] = []byte(a)
	}
	res := c.ExecParams(ctx, sql, params, nil, nil, nil).Read()
	if res.Err != nil {
		return nil, res.Err
	}
	out := make([][]string, len(res.Rows))
	for i, row := range res.Rows {
		out[i] = make([]string, len(row))
		for j, v := range row {
			out[i][j] = string(v)
		}
	}
	return out, nil
}

// exec runs one statement in database db on node.
func (cs *conns) exec(ctx context.Context, node, db, sql string) error {
	c, err := cs.get(ctx, node, db)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, cs.r.timeout())
	defer cancel()
	_, err = c.Exec(ctx, sql).ReadAll()
	return err
}

// connValue quotes a keyword/value connection string value.
func connValue(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}
