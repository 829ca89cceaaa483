package auth

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

// The example exchange of RFC 7677 section 3 (user "user", password "pencil").
func TestSCRAMServerRFC7677(t *testing.T) {
	salt, _ := base64.StdEncoding.DecodeString("W22ZaJ0SNY7soEsUEjb6gQ==")
	v := NewSCRAMVerifier("pencil", salt, 4096)
	s := NewSCRAMServer(Secret{Kind: SecretSCRAM, SCRAM: v}, true, "user", []byte("k"), nil)
	s.serverNonce = func() string { return "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0" }
	first, err := s.First(MechSCRAM, []byte("n,,n=user,r=rOprNGfwEbeRWgbNEkqO"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"; string(first) != want {
		t.Fatalf("server-first %q, want %q", first, want)
	}
	final, err := s.Final([]byte("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="))
	if err != nil {
		t.Fatal(err)
	}
	if want := "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="; string(final) != want {
		t.Fatalf("server-final %q, want %q", final, want)
	}

	// The same exchange with a wrong proof, and with a doomed (mock) secret.
	for _, tc := range []struct {
		name string
		s    *SCRAMServer
		msg  string
	}{
		{"wrong proof", NewSCRAMServer(Secret{Kind: SecretSCRAM, SCRAM: v}, true, "user", nil, nil),
			"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="},
		{"no secret", NewSCRAMServer(Secret{}, false, "user", []byte("k"), nil),
			"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="},
	} {
		tc.s.serverNonce = s.serverNonce
		if _, err := tc.s.First(MechSCRAM, []byte("n,,n=user,r=rOprNGfwEbeRWgbNEkqO")); err != nil {
			t.Fatal(err)
		}
		if _, err := tc.s.Final([]byte(tc.msg)); !errors.Is(err, ErrPasswordMismatch) {
			t.Errorf("%s: %v, want ErrPasswordMismatch", tc.name, err)
		}
	}
}

func TestSCRAMVerifierRoundTrip(t *testing.T) {
	vs := MakeSCRAMVerifier("secret")
	sec := ParseSecret(vs)
	if sec.Kind != SecretSCRAM || sec.SCRAM.String() != vs {
		t.Fatalf("ParseSecret(%q) = %+v", vs, sec)
	}
	if !sec.SCRAM.Verify("secret") || sec.SCRAM.Verify("Secret") {
		t.Error("Verify")
	}
	if !CheckPlain(sec, "u", "secret") || CheckPlain(sec, "u", "x") {
		t.Error("CheckPlain with a SCRAM secret")
	}
	md5 := ParseSecret(MD5Hash("secret", "u"))
	if md5.Kind != SecretMD5 || !CheckPlain(md5, "u", "secret") || CheckPlain(md5, "v", "secret") {
		t.Errorf("md5 secret %+v", md5)
	}
	if p := ParseSecret("md5notahash"); p.Kind != SecretPlain {
		t.Errorf("plain secret %+v", p)
	}
	for _, bad := range []string{"SCRAM-SHA-256$x:AA==$AA==:AA==", "SCRAM-SHA-256$4096:AA==$short:short", "SCRAM-SHA-256$4096"} {
		if _, err := ParseSCRAMVerifier(bad); err == nil {
			t.Errorf("ParseSCRAMVerifier(%q) accepted", bad)
		}
	}
}

// PBKDF2-HMAC-SHA256 against the test vectors of RFC 7914 section 11.
func TestPBKDF2(t *testing.T) {
	got := pbkdf2SHA256([]byte("passwd"), []byte("salt"), 1, 64)
	want := "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783"
	if h := hexString(got); h != want {
		t.Errorf("pbkdf2 = %s\nwant %s", h, want)
	}
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	var sb strings.Builder
	for _, c := range b {
		sb.WriteByte(digits[c>>4])
		sb.WriteByte(digits[c&15])
	}
	return sb.String()
}

func TestMD5Response(t *testing.T) {
	salt := [4]byte{1, 2, 3, 4}
	stored := MD5Hash("pw", "alice")
	// What libpq sends: "md5" + md5(hex(md5(password+user)) + salt).
	resp := "md5" + md5Hex(stored[3:]+string(salt[:]))
	if !CheckMD5Response(stored, salt, resp) || CheckMD5Response(stored, [4]byte{}, resp) {
		t.Error("CheckMD5Response")
	}
}

func md5Hex(s string) string { return MD5Hash(s, "")[3:] }

func TestSCRAMMalformed(t *testing.T) {
	v := NewSCRAMVerifier("pw", []byte("salt"), 4096)
	cb := sha256.Sum256([]byte("cert"))
	for _, tc := range []struct {
		mech, msg string
		cb        []byte
		want      string
	}{
		{MechSCRAM, "x,,n=,r=abc", nil, "Unexpected channel-binding flag"},
		{MechSCRAM, "n,,n=,", nil, `Expected attribute "r"`},
		{MechSCRAM, "n,a=bob,n=,r=abc", nil, "authorization identity"},
		{MechSCRAM, "p=tls-server-end-point,,n=,r=abc", cb[:], "includes channel binding data"},
		{MechSCRAM, "y,,n=,r=abc", cb[:], "channel binding negotiation error"},
		{MechSCRAMPlus, "n,,n=,r=abc", nil, "invalid SASL authentication mechanism"},
		{"PLAIN", "n,,n=,r=abc", nil, "invalid SASL authentication mechanism"},
	} {
		s := NewSCRAMServer(Secret{Kind: SecretSCRAM, SCRAM: v}, true, "u", nil, tc.cb)
		_, err := s.First(tc.mech, []byte(tc.msg))
		var se *SCRAMError
		if !errors.As(err, &se) || !strings.Contains(se.Error(), tc.want) {
			t.Errorf("First(%s, %q) = %v, want %q", tc.mech, tc.msg, err, tc.want)
		}
	}
}
