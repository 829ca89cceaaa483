package auth

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
)

// ServerTLS is the TLS side of a coordinator: its configuration and the
// channel binding data of its certificate.
type ServerTLS struct {
	Config *tls.Config
	// CBData is the tls-server-end-point binding of the certificate (nil when
	// its signature algorithm has none).
	CBData []byte
}

// LoadServerTLS reads a certificate (chain) and its key, and, when caFile is
// set, the CAs that client certificates are checked against (a client that
// presents one must present a valid one). The key file must not be readable
// by group or others, as PostgreSQL requires. TLS 1.2 is the minimum.
func LoadServerTLS(certFile, keyFile, caFile string) (*ServerTLS, error) {
	if err := CheckPrivate(keyFile); err != nil {
		return nil, fmt.Errorf("private key file: %w", err)
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load certificate %s and key %s: %w", certFile, keyFile, err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("parse certificate %s: %w", certFile, err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("read CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA file %s holds no PEM certificate", caFile)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	}
	st := &ServerTLS{Config: cfg}
	if cb, ok := ChannelBindingData(leaf); ok {
		st.CBData = cb
	}
	return st, nil
}
