// Package pgha holds what xlctl and the coordinators both do to a
// PostgreSQL datanode's standby when it takes its datanode's place.
package pgha

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
)

// Promote ends recovery on the standby conn is connected to (pg_promote
// waits for it, up to 60 s; a server already promoted is left as it is),
// checkpoints so that its control file shows its new timeline (pg_rewind of
// the old datanode reads it there), and drops the synchronous standby it
// carried over from its datanode: it has none yet.
func Promote(ctx context.Context, conn *pgx.Conn) error {
	var inRecovery bool
	if err := conn.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&inRecovery); err != nil {
		return err
	}
	if inRecovery {
		var done bool
		if err := conn.QueryRow(ctx, "SELECT pg_promote(true, 60)").Scan(&done); err != nil {
			return err
		}
		if !done {
			return errors.New("the promotion did not finish within 60s")
		}
	}
	if _, err := conn.Exec(ctx, "CHECKPOINT"); err != nil {
		return err
	}
	return SetSyncStandby(ctx, conn, "")
}

// SetSyncStandby sets synchronous_standby_names (names, a list already
// quoted as the setting wants it) and reloads the configuration.
func SetSyncStandby(ctx context.Context, conn *pgx.Conn, names string) error {
	if _, err := conn.Exec(ctx, "ALTER SYSTEM SET synchronous_standby_names = "+quoteLiteral(names)); err != nil {
		return err
	}
	_, err := conn.Exec(ctx, "SELECT pg_reload_conf()")
	return err
}

func quoteLiteral(s string) string {
	out := []byte{'\''}
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' {
			out = append(out, '\'')
		}
		out = append(out, s[i])
	}
	return string(append(out, '\''))
}
