package opstest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xlgo/xlgo/cluster/clustertest"
)

// TestReloadTLSFiles: a reload (xlctl reload, SIGHUP) puts a renewed server
// certificate in force: clients that connect after it see the new one,
// connected ones keep their sessions.
func TestReloadTLSFiles(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Datanodes: 1, TLS: true})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	certPath, keyPath, _ := c.Ctl.TLSFiles()
	if certPath == "" {
		t.Fatal("the cluster has no TLS files")
	}
	serialOf := func() (*big.Int, *pgx.Conn) {
		t.Helper()
		conn, err := pgx.Connect(ctx, c.CoordDSN(0, "postgres")+" sslmode=require")
		if err != nil {
			t.Fatal(err)
		}
		tc, ok := conn.PgConn().Conn().(*tls.Conn)
		if !ok {
			t.Fatalf("the connection is not TLS: %T", conn.PgConn().Conn())
		}
		return tc.ConnectionState().PeerCertificates[0].SerialNumber, conn
	}
	before, old := serialOf()
	defer old.Close(ctx)

	// A renewed certificate (self-signed, its own serial) in the same files.
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial := big.NewInt(time.Now().UnixNano())
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: "xlgo renewed"},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := c.Ctl.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	var after *big.Int
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		var conn *pgx.Conn
		after, conn = serialOf()
		conn.Close(ctx)
		if after.Cmp(serial) == 0 || time.Now().After(deadline) {
			break
		}
	}
	if after.Cmp(serial) != 0 || before.Cmp(serial) == 0 {
		t.Fatalf("certificate serial after the reload %v (before %v), want the renewed %v", after, before, serial)
	}
	exec(t, old, "SELECT 1") // the connection made before the renewal goes on
}
