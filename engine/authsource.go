package engine

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/xlgo/xlgo/pgerr"
	"github.com/xlgo/xlgo/pooler"
)

// AuthidSource is a PasswordSource that reads rolpassword from pg_authid on
// the preferred datanode, connecting as a superuser through the coordinator's pool.
type AuthidSource struct {
	Co *Coordinator
	// User is the role the lookup connects as; it must be able to read pg_authid.
	User string
	// Database is the database it connects to ("postgres" when empty).
	Database string
}

// Secret implements PasswordSource.
func (a *AuthidSource) Secret(ctx context.Context, user string) (string, bool, string, error) {
	node, ok := a.Co.preferredDatanode()
	if !ok {
		return "", false, "", &pgconn.PgError{Code: pgerr.SqlclientUnableToEstablishSqlconnection, Message: "no datanode is registered to read passwords from"}
	}
	db := a.Database
	if db == "" {
		db = "postgres"
	}
	conn, err := a.Co.Pool.Get(ctx, pooler.Key{Node: node.Name, Database: db, User: a.User}, "")
	if err != nil {
		return "", false, "", err
	}
	res := conn.ExecParams(ctx,
		"SELECT rolpassword, rolvaliduntil IS NOT NULL AND rolvaliduntil < now() FROM pg_catalog.pg_authid WHERE rolname = $1",
		[][]byte{[]byte(user)}, nil, nil, nil).Read()
	if res.Err != nil {
		a.Co.Pool.Discard(conn)
		return "", false, "", fmt.Errorf("read pg_authid on %s: %w", node.Name, res.Err)
	}
	a.Co.Pool.Put(conn)
	switch {
	case len(res.Rows) == 0:
		return "", false, fmt.Sprintf("Role %q does not exist.", user), nil
	case res.Rows[0][0] == nil:
		return "", false, fmt.Sprintf("User %q has no password assigned.", user), nil
	case string(res.Rows[0][1]) == "t":
		return "", false, fmt.Sprintf("User %q has an expired password.", user), nil
	}
	return string(res.Rows[0][0]), true, "", nil
}
