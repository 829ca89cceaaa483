package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/xlgo/xlgo/auth"
)

// authTestRules is the rule list of the authentication tests.
const authTestRules = `
local  all  all                                     trust
host   all  scram,verif,md5verif,ghost  127.0.0.1/32  scram-sha-256
host   all  md5u,md5plain,md5scram,md5ghost  127.0.0.1/32  md5
host   all  pw,pwscram                  127.0.0.1/32  password
host   all  rej                         127.0.0.1/32  reject
host   d    trusted                     127.0.0.1/32  trust
hostssl all  tlsonly                    127.0.0.1/32  scram-sha-256
`

func authTestUsers() auth.Userlist {
	return auth.Userlist{
		"scram":    "s3cret",
		"verif":    auth.MakeSCRAMVerifier("v3rif"),
		"md5verif": auth.MD5Hash("m5", "md5verif"), // a scram-sha-256 rule cannot use an md5 hash
		"md5u":     auth.MD5Hash("m5pw", "md5u"),
		"md5plain": "plainpw",
		"md5scram": auth.MakeSCRAMVerifier("upgraded"), // md5 rule, SCRAM secret: SCRAM runs
		"pw":       "clear",
		"pwscram":  auth.MakeSCRAMVerifier("clear2"),
		"tlsonly":  "tlspw",
	}
}

func startAuthServer(t *testing.T, rules string, tlsOn bool) (*Server, string) {
	t.Helper()
	h, err := auth.ParseHBA(rules)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var st *auth.ServerTLS
	if tlsOn {
		if err := auth.GenerateCerts(dir, "xlgo test", []string{"127.0.0.1"}); err != nil {
			t.Fatal(err)
		}
		if st, err = auth.LoadServerTLS(filepath.Join(dir, auth.ServerCertFile), filepath.Join(dir, auth.ServerKeyFile), ""); err != nil {
			t.Fatal(err)
		}
	}
	srv, _ := startWireServer(t, func(o *Options) {
		o.HBA = h
		o.Passwords = UserlistSource{Users: authTestUsers()}
		o.TLS = st
	})
	return srv, dir
}

func authConnect(t *testing.T, srv *Server, dsn string) (*pgx.Conn, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, fmt.Sprintf("host=127.0.0.1 port=%d database=d connect_timeout=10 default_query_exec_mode=simple_protocol %s", serverPort(srv), dsn))
	if err == nil {
		t.Cleanup(func() { conn.Close(context.Background()) })
		var n int
		if err := conn.QueryRow(ctx, "select 7").Scan(&n); err != nil || n != 7 {
			t.Errorf("query after authentication: %v %d", err, n)
		}
	}
	return conn, err
}

func TestAuthMethodsWithPgx(t *testing.T) {
	srv, _ := startAuthServer(t, authTestRules, false)
	for _, tc := range []struct {
		user, password string
		code           string // "" for success
		msg            string
	}{
		{"scram", "s3cret", "", ""},
		{"scram", "wrong", "28P01", `password authentication failed for user "scram"`},
		{"verif", "v3rif", "", ""},
		{"verif", "v3rif ", "28P01", ""},
		{"md5verif", "m5", "28P01", ""},
		{"ghost", "any", "28P01", `password authentication failed for user "ghost"`},
		{"md5u", "m5pw", "", ""},
		{"md5u", "m5pW", "28P01", `password authentication failed for user "md5u"`},
		{"md5plain", "plainpw", "", ""},
		{"md5scram", "upgraded", "", ""},
		{"md5scram", "nope", "28P01", ""},
		{"md5ghost", "any", "28P01", ""},
		{"pw", "clear", "", ""},
		{"pw", "Clear", "28P01", ""},
		{"pwscram", "clear2", "", ""},
		{"rej", "x", "28000", `pg_hba.conf rejects connection for host "127.0.0.1", user "rej", database "d", no encryption`},
		{"trusted", "", "", ""},
		{"nobody", "x", "28000", `no pg_hba.conf entry for host "127.0.0.1", user "nobody", database "d", no encryption`},
		{"tlsonly", "tlspw", "28000", `no pg_hba.conf entry for host "127.0.0.1", user "tlsonly", database "d", no encryption`},
	} {
		t.Run(tc.user+"/"+tc.password, func(t *testing.T) {
			_, err := authConnect(t, srv, fmt.Sprintf("user=%s password='%s' sslmode=disable", tc.user, tc.password))
			if tc.code == "" {
				if err != nil {
					t.Fatalf("connect: %v", err)
				}
				return
			}
			pgErr := wantSQLState(t, err, tc.code)
			if tc.msg != "" && pgErr.Message != tc.msg {
				t.Errorf("message %q, want %q", pgErr.Message, tc.msg)
			}
			if pgErr.Severity != "FATAL" {
				t.Errorf("severity %q", pgErr.Severity)
			}
		})
	}
}

func TestAuthTLS(t *testing.T) {
	srv, dir := startAuthServer(t, authTestRules, true)
	ca := filepath.Join(dir, auth.CACertFile)

	// hostssl: require works, and SCRAM then offers channel binding.
	conn, err := authConnect(t, srv, "user=tlsonly password=tlspw sslmode=require")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := conn.PgConn().Conn().(*tls.Conn); !ok {
		t.Errorf("connection is not TLS: %T", conn.PgConn().Conn())
	}
	if _, err := authConnect(t, srv, "user=tlsonly password=tlspw sslmode=require channel_binding=require"); err != nil {
		t.Errorf("channel_binding=require: %v", err)
	}
	if _, err := authConnect(t, srv, "user=tlsonly password=wrong sslmode=require channel_binding=require"); err == nil {
		t.Error("wrong password accepted over TLS")
	} else {
		wantSQLState(t, err, "28P01")
	}
	// sslmode=disable matches no hostssl rule.
	_, err = authConnect(t, srv, "user=tlsonly password=tlspw sslmode=disable")
	wantSQLState(t, err, "28000")
	// verify-full with the generated CA, by address and by name.
	for _, host := range []string{"127.0.0.1", "localhost"} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c, err := pgx.Connect(ctx, fmt.Sprintf("host=%s port=%d user=scram password=s3cret database=d sslmode=verify-full sslrootcert=%s", host, serverPort(srv), ca))
		cancel()
		if err != nil {
			t.Errorf("verify-full via %s: %v", host, err)
			continue
		}
		c.Close(context.Background())
	}
	// A certificate the client does not trust is refused by verify-full.
	other := t.TempDir()
	if err := auth.GenerateCerts(other, "other", nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if c, err := pgx.Connect(ctx, fmt.Sprintf("host=127.0.0.1 port=%d user=scram password=s3cret database=d sslmode=verify-full sslrootcert=%s",
		serverPort(srv), filepath.Join(other, auth.CACertFile))); err == nil {
		c.Close(context.Background())
		t.Error("verify-full accepted a certificate of another CA")
	}
}

func TestAuthWithPsql(t *testing.T) {
	srv, dir := startAuthServer(t, authTestRules, true)
	p := strconv.Itoa(serverPort(srv))
	ca := filepath.Join(dir, auth.CACertFile)
	psql := func(sslmode, user, password string, extra ...string) (string, error) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		args := append([]string{"-X", "-At", "-h", "127.0.0.1", "-p", p, "-U", user, "-d", "d", "-c", "select 9"}, extra...)
		cmd := exec.CommandContext(ctx, psqlBinary(t), args...)
		cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir(), "PGCONNECT_TIMEOUT=10", "PGSSLMODE=" + sslmode,
			"PGPASSWORD=" + password, "PGSSLROOTCERT=" + ca, "LC_ALL=C"}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	ok := func(out string, err error) {
		t.Helper()
		if err != nil || strings.TrimSpace(out) != "9" {
			t.Errorf("psql: %v\n%s", err, out)
		}
	}
	refused := func(want string, out string, err error) {
		t.Helper()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(out, want) {
			t.Errorf("psql: %v, want exit 2 and %q:\n%s", err, want, out)
		}
	}
	ok(psql("disable", "scram", "s3cret"))
	ok(psql("disable", "md5u", "m5pw"))
	ok(psql("disable", "verif", "v3rif"))
	out, err := psql("disable", "scram", "bad")
	refused(`FATAL:  password authentication failed for user "scram"`, out, err)
	out, err = psql("disable", "md5u", "bad")
	refused(`FATAL:  password authentication failed for user "md5u"`, out, err)
	out, err = psql("disable", "nobody", "x")
	refused(`no pg_hba.conf entry for host "127.0.0.1", user "nobody", database "d", no encryption`, out, err)
	// TLS: require, verify-full, channel binding (libpq picks SCRAM-SHA-256-PLUS).
	ok(psql("require", "tlsonly", "tlspw"))
	ok(psql("verify-full", "tlsonly", "tlspw"))
	ok(psql("require", "scram", "s3cret", "-d", "dbname=d channel_binding=require"))
	out, err = psql("require", "tlsonly", "nope")
	refused(`password authentication failed for user "tlsonly"`, out, err)
	out, err = psql("disable", "tlsonly", "tlspw")
	refused(`no pg_hba.conf entry for host "127.0.0.1", user "tlsonly", database "d", no encryption`, out, err)
}

func TestAuthProtocolErrors(t *testing.T) {
	srv, _ := startAuthServer(t, authTestRules, false)
	// A client that answers a SASL request with a bogus mechanism.
	nc := rawWireConn(t, srv)
	fe := pgproto3.NewFrontend(nc, nc)
	fe.Send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: map[string]string{"user": "scram", "database": "d"}})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	msg, err := fe.Receive()
	if err != nil {
		t.Fatal(err)
	}
	sasl, ok := msg.(*pgproto3.AuthenticationSASL)
	if !ok || strings.Join(sasl.AuthMechanisms, ",") != "SCRAM-SHA-256" {
		t.Fatalf("got %#v", msg)
	}
	fe.Send(&pgproto3.SASLInitialResponse{AuthMechanism: "PLAIN", Data: []byte("n,,n=,r=abc")})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	e, ok := readFatalOrClose(t, nc)
	if !ok || e.Code != "08P01" || e.Message != "client selected an invalid SASL authentication mechanism" {
		t.Errorf("got %+v", e)
	}

	// A client that sends a query instead of the password.
	nc = rawWireConn(t, srv)
	fe = pgproto3.NewFrontend(nc, nc)
	fe.Send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: map[string]string{"user": "md5u", "database": "d"}})
	fe.Flush()
	if msg, err := fe.Receive(); err != nil {
		t.Fatal(err)
	} else if _, ok := msg.(*pgproto3.AuthenticationMD5Password); !ok {
		t.Fatalf("got %#v", msg)
	}
	fe.Send(&pgproto3.Query{String: "select 1"})
	fe.Flush()
	e, ok = readFatalOrClose(t, nc)
	if !ok || e.Code != "08P01" || e.Message != "expected password response, got message type 81" {
		t.Errorf("got %+v", e)
	}
}

// Authentication, like the startup packet, must finish within StartupTimeout.
func TestAuthTimeout(t *testing.T) {
	h, _ := auth.ParseHBA("host all all 127.0.0.1/32 md5")
	srv, _ := startWireServer(t, func(o *Options) {
		o.HBA = h
		o.Passwords = UserlistSource{Users: authTestUsers()}
		o.StartupTimeout = 200 * time.Millisecond
	})
	nc := rawWireConn(t, srv)
	fe := pgproto3.NewFrontend(nc, nc)
	fe.Send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: map[string]string{"user": "md5u"}})
	fe.Flush()
	if _, err := fe.Receive(); err != nil {
		t.Fatal(err)
	}
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := fe.Receive(); err == nil {
		t.Error("the connection stayed open past the startup timeout")
	}
}

// The error of a password source reaches the client as a FATAL error.
type failingSource struct{}

func (failingSource) Secret(context.Context, string) (string, bool, string, error) {
	return "", false, "", &pgconn.PgError{Code: "08001", Message: "could not connect to datanode datanode1"}
}

func TestAuthPasswordSourceDown(t *testing.T) {
	h, _ := auth.ParseHBA("host all all 127.0.0.1/32 scram-sha-256")
	srv, _ := startWireServer(t, func(o *Options) { o.HBA = h; o.Passwords = failingSource{} })
	_, err := authConnect(t, srv, "user=u password=x sslmode=disable")
	pgErr := wantSQLState(t, err, "08001")
	if !strings.Contains(pgErr.Message, `could not read the password of user "u"`) {
		t.Errorf("message %q", pgErr.Message)
	}
}
