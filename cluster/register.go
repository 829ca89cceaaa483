package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// sqlString quotes s as an SQL string literal.
func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// sqlIdent quotes a node name when it is not a plain lower-case identifier.
func sqlIdent(s string) string {
	if nameRE.MatchString(s) {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// CreateNodeSQL is the guide's statement that registers node n with role
// RoleCoordinator or RoleDatanode, e.g.
// CREATE NODE datanode1 WITH (TYPE='datanode', HOST='127.0.0.1', PORT=20008, PRIMARY, PREFERRED);
func CreateNodeSQL(role string, n Node) string {
	return fmt.Sprintf("CREATE NODE %s WITH (TYPE=%s, %s);", sqlIdent(n.Name), sqlString(role), nodeOptions(role, n))
}

// AlterNodeSQL is the statement that updates an existing registration of n
// (the guide's coordinators already know themselves), e.g.
// ALTER NODE coord1 WITH (HOST='127.0.0.1', PORT=20004);
func AlterNodeSQL(role string, n Node) string {
	return fmt.Sprintf("ALTER NODE %s WITH (%s);", sqlIdent(n.Name), nodeOptions(role, n))
}

func nodeOptions(role string, n Node) string {
	s := fmt.Sprintf("HOST=%s, PORT=%d", sqlString(n.Host), n.Port)
	if role == RoleDatanode {
		if n.Primary {
			s += ", PRIMARY"
		}
		if n.Preferred {
			s += ", PREFERRED"
		}
	}
	return s
}

// PoolReloadSQL makes a coordinator's pooler pick up pgxc_node changes.
const PoolReloadSQL = "SELECT pgxc_pool_reload();"

// Registration is one statement run on every coordinator to register a node;
// Alter is what runs instead when the node is already registered there.
type Registration struct {
	Create string
	Alter  string
}

// RegistrationStatements are the statements run on every coordinator, in
// order: every coordinator, every datanode, then the pool reload (Alter empty).
func RegistrationStatements(cfg *Config) []Registration {
	var out []Registration
	for _, n := range cfg.Coordinators {
		out = append(out, Registration{CreateNodeSQL(RoleCoordinator, n), AlterNodeSQL(RoleCoordinator, n)})
	}
	for _, n := range cfg.Datanodes {
		create, alter := CreateNodeSQL(RoleDatanode, n), AlterNodeSQL(RoleDatanode, n)
		// The standby the coordinators promote when the datanode is lost
		// (xlgo's own node options); an update drops one the config no
		// longer has.
		standby := ", STANDBY_HOST=''"
		if sb, ok := cfg.StandbyOf(n.Name); ok {
			standby = fmt.Sprintf(", STANDBY_HOST=%s, STANDBY_PORT=%d", sqlString(sb.Host), sb.Port)
			create = strings.TrimSuffix(create, ");") + standby + ");"
		}
		alter = strings.TrimSuffix(alter, ");") + standby + ");"
		out = append(out, Registration{create, alter})
	}
	return append(out, Registration{Create: PoolReloadSQL})
}

// connectSimple opens a simple-protocol connection (the coordinator speaks
// only that) to host:port.
func connectSimple(ctx context.Context, host string, port int, user, db string) (*pgx.Conn, error) {
	cc, err := pgx.ParseConfig(fmt.Sprintf("host=%s port=%d user=%s dbname=%s sslmode=disable connect_timeout=5",
		host, port, user, db))
	if err != nil {
		return nil, err
	}
	cc.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	cc.RuntimeParams["application_name"] = "xlctl"
	return pgx.ConnectConfig(ctx, cc)
}

// Register runs RegistrationStatements on every coordinator, printing each
// statement and its result the way psql does.
func (c *Cluster) Register(ctx context.Context) error {
	if err := c.AdoptFailovers(ctx); err != nil { // never point coordinators back at a lost datanode
		return err
	}
	for _, co := range c.Config.Coordinators {
		if err := c.coordinatorStep(ctx, co, "register", ""); err != nil {
			return fmt.Errorf("register nodes on %s: %w", co.Name, err)
		}
	}
	return nil
}

func (c *Cluster) registerOn(ctx context.Context, co Node) error {
	conn, err := connectSimple(ctx, c.connHost(co, RoleCoordinator), co.Port, c.ClientUser(), "postgres")
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	for _, r := range RegistrationStatements(c.Config) {
		fmt.Fprintln(c.out(), r.Create)
		err := runAndPrint(ctx, conn, r.Create, c.out())
		var pgErr *pgconn.PgError
		if err != nil && r.Alter != "" && errors.As(err, &pgErr) && pgErr.Code == "42710" {
			// Already registered (a coordinator knows itself): update it as the guide does.
			fmt.Fprintf(c.out(), "ERROR:  %s\n", pgErr.Message)
			fmt.Fprintln(c.out(), r.Alter)
			err = runAndPrint(ctx, conn, r.Alter, c.out())
		}
		if err != nil {
			return fmt.Errorf("%s: %w", r.Create, err)
		}
	}
	return nil
}

// runAndPrint runs one statement and writes its command tag or its rows in
// psql's aligned format.
func runAndPrint(ctx context.Context, conn *pgx.Conn, sql string, w io.Writer) error {
	rows, err := conn.Query(ctx, sql)
	if err != nil {
		return err
	}
	var data [][]string
	for rows.Next() {
		raw := rows.RawValues()
		row := make([]string, len(raw))
		for i, v := range raw {
			row[i] = string(v)
		}
		data = append(data, row)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	fields := rows.FieldDescriptions()
	if len(fields) == 0 {
		fmt.Fprintln(w, rows.CommandTag().String())
		return nil
	}
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.Name
	}
	io.WriteString(w, FormatTable(names, data))
	return nil
}

// FormatTable renders rows as psql's default aligned output, row count and
// trailing blank line included.
func FormatTable(columns []string, rows [][]string) string {
	width := make([]int, len(columns))
	for i, c := range columns {
		width[i] = len(c)
	}
	for _, r := range rows {
		for i, v := range r {
			if i < len(width) && len(v) > width[i] {
				width[i] = len(v)
			}
		}
	}
	var b strings.Builder
	line := func(cells []string, header bool) {
		for i := range columns {
			v := ""
			if i < len(cells) {
				v = cells[i]
			}
			if i > 0 {
				b.WriteString("|")
			}
			pad := width[i] - len(v)
			switch {
			case header: // centered, padded on both sides
				b.WriteString(" " + strings.Repeat(" ", pad/2) + v + strings.Repeat(" ", pad-pad/2) + " ")
			case i < len(columns)-1:
				b.WriteString(" " + v + strings.Repeat(" ", pad) + " ")
			default: // psql does not pad the last column of a row
				b.WriteString(" " + v)
			}
		}
		b.WriteString("\n")
	}
	line(columns, true)
	for i := range columns {
		if i > 0 {
			b.WriteString("+")
		}
		b.WriteString(strings.Repeat("-", width[i]+2))
	}
	b.WriteString("\n")
	for _, r := range rows {
		line(r, false)
	}
	if len(rows) == 1 {
		b.WriteString("(1 row)\n\n")
	} else {
		fmt.Fprintf(&b, "(%d rows)\n\n", len(rows))
	}
	return b.String()
}

// waitSQL polls until a simple-protocol `SELECT 1` succeeds on host:port.
// With answered set, any reply of the server to the query counts, an error
// included: a coordinator without registered nodes refuses queries but is up.
// Without it an error reply ends the wait at once: the server is up and says no.
func waitSQL(ctx context.Context, host string, port int, user string, deadline time.Duration, exited <-chan error, answered bool) error {
	ctx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	var last error
	for {
		conn, err := connectSimple(ctx, host, port, user, "postgres")
		if err == nil {
			var one string
			err = conn.QueryRow(ctx, "SELECT 1").Scan(&one)
			conn.Close(context.Background())
			var pgErr *pgconn.PgError
			if err == nil || answered && errors.As(err, &pgErr) {
				return nil
			}
			if errors.As(err, &pgErr) {
				return fmt.Errorf("SELECT 1 on %s:%d: %w", host, port, err)
			}
		}
		last = err
		select {
		case err := <-exited:
			if err == nil {
				err = errors.New("exited")
			}
			return fmt.Errorf("process ended before it answered SELECT 1: %w", err)
		case <-ctx.Done():
			return fmt.Errorf("no answer to SELECT 1 on %s:%d within %s: %w", host, port, deadline, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
