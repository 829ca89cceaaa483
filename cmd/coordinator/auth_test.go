package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/xlgo/xlgo/cluster"
	"github.com/xlgo/xlgo/cluster/clustertest"
)

// TestClientAuthAndTLS runs a cluster whose coordinator checks passwords
// against the datanode's pg_authid, offers TLS with the certificate of
// xlctl init --tls, and logs in to the datanode with a password from the config.
func TestClientAuthAndTLS(t *testing.T) {
	user := os.Getenv("PGUSER")
	if user == "" {
		user = currentUser(t)
	}
	rule := func(typ, users, method string) cluster.HBARule {
		r := cluster.HBARule{Type: typ, Database: "all", User: users, Method: method}
		if typ != "local" {
			r.Address = "127.0.0.1/32"
		}
		return r
	}
	c := clustertest.Start(t, clustertest.Options{Datanodes: 1, TLS: true, Auth: cluster.AuthConfig{
		Rules: []cluster.HBARule{
			rule("local", "all", "trust"),
			rule("host", user, "trust"), // xlctl and the test's own connections
			rule("hostssl", "tlsuser", "scram-sha-256"),
			rule("host", "alice,dnuser", "scram-sha-256"),
			rule("host", "md5user", "md5"),
			rule("host", "rejected", "reject"),
		},
		DatanodePasswords: []cluster.UserPassword{{User: "dnuser", Password: "dn:pw"}},
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// Roles as PostgreSQL stores them: SCRAM verifiers and an md5 hash.
	dn, err := pgx.Connect(ctx, c.DatanodeDSN(0, "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer dn.Close(context.Background())
	for _, sql := range []string{
		"SET password_encryption = 'scram-sha-256'",
		"CREATE ROLE alice LOGIN PASSWORD 'alice pw'",
		"CREATE ROLE tlsuser LOGIN PASSWORD 'tlspw'",
		"CREATE ROLE dnuser LOGIN PASSWORD 'dn:pw'",
		"CREATE ROLE rejected LOGIN PASSWORD 'x'",
		"CREATE ROLE nobody LOGIN PASSWORD 'x'",
		"SET password_encryption = 'md5'",
		"CREATE ROLE md5user LOGIN PASSWORD 'md5 pw'",
	} {
		if _, err := dn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	var verifier string
	if err := dn.QueryRow(ctx, "SELECT rolpassword FROM pg_authid WHERE rolname = 'alice'").Scan(&verifier); err != nil || !strings.HasPrefix(verifier, "SCRAM-SHA-256$4096:") {
		t.Fatalf("alice's verifier %q %v", verifier, err)
	}
	// The datanode asks dnuser for its password: the coordinator must send it.
	hba := filepath.Join(c.Ctl.DataDir(c.Config.Datanodes[0].Name), "pg_hba.conf")
	old, err := os.ReadFile(hba)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(hba, append([]byte("host all dnuser 127.0.0.1/32 scram-sha-256\n"), old...), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := dn.Exec(ctx, "SELECT pg_reload_conf()"); err != nil {
		t.Fatal(err)
	}
	if _, err := pgx.Connect(ctx, fmt.Sprintf("host=127.0.0.1 port=%d user=dnuser dbname=postgres sslmode=disable", c.DatanodePort(0))); err == nil {
		t.Fatal("the datanode let dnuser in without a password")
	}

	port := c.CoordPort(0)
	connect := func(dsn string) (string, error) {
		t.Helper()
		conn, err := pgx.Connect(ctx, fmt.Sprintf("host=127.0.0.1 port=%d dbname=postgres connect_timeout=10 %s", port, dsn))
		if err != nil {
			return "", err
		}
		defer conn.Close(context.Background())
		var who string
		err = conn.QueryRow(ctx, "SELECT current_user").Scan(&who)
		return who, err
	}
	wantCode := func(err error, code, msg string) {
		t.Helper()
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != code || (msg != "" && pgErr.Message != msg) {
			t.Errorf("error %v, want %s %q", err, code, msg)
		}
	}

	t.Run("pgx", func(t *testing.T) {
		for _, tc := range []struct{ user, password string }{{"alice", "alice pw"}, {"md5user", "md5 pw"}, {"dnuser", "dn:pw"}} {
			who, err := connect(fmt.Sprintf("user=%s password='%s' sslmode=disable", tc.user, tc.password))
			if err != nil || who != tc.user {
				t.Errorf("%s: %q %v", tc.user, who, err)
			}
			_, err = connect(fmt.Sprintf("user=%s password=wrong sslmode=disable", tc.user))
			wantCode(err, "28P01", fmt.Sprintf("password authentication failed for user %q", tc.user))
		}
		_, err := connect("user=nobody password=x sslmode=disable")
		wantCode(err, "28000", `no pg_hba.conf entry for host "127.0.0.1", user "nobody", database "postgres", no encryption`)
		_, err = connect("user=rejected password=x sslmode=disable")
		wantCode(err, "28000", `pg_hba.conf rejects connection for host "127.0.0.1", user "rejected", database "postgres", no encryption`)
	})

	t.Run("tls", func(t *testing.T) {
		if who, err := connect("user=tlsuser password=tlspw sslmode=require"); err != nil || who != "tlsuser" {
			t.Errorf("sslmode=require: %q %v", who, err)
		}
		_, err := connect("user=tlsuser password=tlspw sslmode=disable")
		wantCode(err, "28000", `no pg_hba.conf entry for host "127.0.0.1", user "tlsuser", database "postgres", no encryption`)
		ca := c.Ctl.CACertPath()
		for _, host := range []string{"127.0.0.1", "localhost"} {
			conn, err := pgx.Connect(ctx, fmt.Sprintf("host=%s port=%d user=tlsuser password=tlspw dbname=postgres sslmode=verify-full sslrootcert=%s channel_binding=require", host, port, ca))
			if err != nil {
				t.Errorf("verify-full via %s: %v", host, err)
				continue
			}
			conn.Close(context.Background())
		}
	})

	t.Run("psql", func(t *testing.T) {
		psqlPath, err := exec.LookPath("psql")
		if err != nil {
			t.Fatal("psql is not installed")
		}
		run := func(user, password, sslmode string) (string, error) {
			cmd := exec.CommandContext(ctx, psqlPath, "-X", "-At", "-h", "127.0.0.1", "-p", fmt.Sprint(port), "-U", user, "-d", "postgres", "-c", "select current_user")
			cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "LC_ALL=C", "PGCONNECT_TIMEOUT=10",
				"PGPASSWORD=" + password, "PGSSLMODE=" + sslmode, "PGSSLROOTCERT=" + c.Ctl.CACertPath()}
			out, err := cmd.CombinedOutput()
			return strings.TrimSpace(string(out)), err
		}
		for _, tc := range []struct{ user, password, sslmode string }{
			{"alice", "alice pw", "disable"}, {"md5user", "md5 pw", "disable"}, {"tlsuser", "tlspw", "verify-full"}, {"alice", "alice pw", "require"},
		} {
			if out, err := run(tc.user, tc.password, tc.sslmode); err != nil || out != tc.user {
				t.Errorf("psql as %s (%s): %v\n%s", tc.user, tc.sslmode, err, out)
			}
		}
		out, err := run("alice", "bad", "disable")
		if err == nil || !strings.Contains(out, `password authentication failed for user "alice"`) {
			t.Errorf("psql with a wrong password: %v\n%s", err, out)
		}
		out, err = run("tlsuser", "tlspw", "disable")
		if err == nil || !strings.Contains(out, `no pg_hba.conf entry for host "127.0.0.1", user "tlsuser", database "postgres", no encryption`) {
			t.Errorf("psql without TLS to a hostssl rule: %v\n%s", err, out)
		}
	})
}

func currentUser(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("id", "-un").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}
