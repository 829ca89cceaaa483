package auth

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
)

// SCRAM mechanism names as they appear in AuthenticationSASL.
const (
	MechSCRAM     = "SCRAM-SHA-256"
	MechSCRAMPlus = "SCRAM-SHA-256-PLUS"
	// DefaultSCRAMIterations is PostgreSQL's scram_iterations default.
	DefaultSCRAMIterations = 4096
	scramKeyLen            = sha256.Size
	scramSaltLen           = 16
	scramNonceLen          = 18
	cbTypeEndPoint         = "tls-server-end-point"
)

// Kinds of stored secrets.
const (
	SecretPlain = iota // a password in clear (userlist files only)
	SecretMD5          // "md5" + hex(md5(password + user))
	SecretSCRAM        // SCRAM-SHA-256$iter:salt$StoredKey:ServerKey
)

// Secret is a stored password: in clear, as an md5 hash or as a SCRAM verifier.
type Secret struct {
	Kind  int
	Value string
	SCRAM *SCRAMVerifier // when Kind is SecretSCRAM
}

// ParseSecret classifies a stored password the way PostgreSQL's
// get_password_type does.
func ParseSecret(s string) Secret {
	if len(s) == 35 && strings.HasPrefix(s, "md5") {
		if _, err := hex.DecodeString(s[3:]); err == nil {
			return Secret{Kind: SecretMD5, Value: s}
		}
	}
	if v, err := ParseSCRAMVerifier(s); err == nil {
		return Secret{Kind: SecretSCRAM, Value: s, SCRAM: v}
	}
	return Secret{Kind: SecretPlain, Value: s}
}

// SCRAMVerifier is what a server keeps to run SCRAM-SHA-256 without the password.
type SCRAMVerifier struct {
	Iterations int
	Salt       []byte
	StoredKey  []byte
	ServerKey  []byte
}

// ParseSCRAMVerifier parses SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>.
func ParseSCRAMVerifier(s string) (*SCRAMVerifier, error) {
	rest, ok := strings.CutPrefix(s, "SCRAM-SHA-256$")
	if !ok {
		return nil, errors.New("not a SCRAM-SHA-256 secret")
	}
	params, keys, ok := strings.Cut(rest, "$")
	if !ok {
		return nil, errors.New("malformed SCRAM secret")
	}
	iterS, saltS, ok1 := strings.Cut(params, ":")
	storedS, serverS, ok2 := strings.Cut(keys, ":")
	if !ok1 || !ok2 {
		return nil, errors.New("malformed SCRAM secret")
	}
	iter, err := strconv.Atoi(iterS)
	if err != nil || iter < 1 {
		return nil, errors.New("malformed SCRAM secret: iteration count")
	}
	v := &SCRAMVerifier{Iterations: iter}
	if v.Salt, err = base64.StdEncoding.DecodeString(saltS); err != nil || len(v.Salt) == 0 {
		return nil, errors.New("malformed SCRAM secret: salt")
	}
	if v.StoredKey, err = base64.StdEncoding.DecodeString(storedS); err != nil || len(v.StoredKey) != scramKeyLen {
		return nil, errors.New("malformed SCRAM secret: stored key")
	}
	if v.ServerKey, err = base64.StdEncoding.DecodeString(serverS); err != nil || len(v.ServerKey) != scramKeyLen {
		return nil, errors.New("malformed SCRAM secret: server key")
	}
	return v, nil
}

// String renders the verifier as PostgreSQL stores it in pg_authid.
func (v *SCRAMVerifier) String() string {
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", v.Iterations, b64(v.Salt), b64(v.StoredKey), b64(v.ServerKey))
}

// NewSCRAMVerifier computes the verifier of password with salt and iterations.
func NewSCRAMVerifier(password string, salt []byte, iterations int) *SCRAMVerifier {
	salted := pbkdf2SHA256([]byte(saslPrep(password)), salt, iterations, scramKeyLen)
	clientKey := hmacSHA256(salted, []byte("Client Key"))
	stored := sha256.Sum256(clientKey)
	return &SCRAMVerifier{
		Iterations: iterations,
		Salt:       append([]byte(nil), salt...),
		StoredKey:  stored[:],
		ServerKey:  hmacSHA256(salted, []byte("Server Key")),
	}
}

// MakeSCRAMVerifier computes a verifier of password with a random salt and
// PostgreSQL's default iteration count (what CREATE ROLE ... PASSWORD stores).
func MakeSCRAMVerifier(password string) string {
	return NewSCRAMVerifier(password, randomBytes(scramSaltLen), DefaultSCRAMIterations).String()
}

// Verify reports whether password is the one this verifier was made from.
func (v *SCRAMVerifier) Verify(password string) bool {
	w := NewSCRAMVerifier(password, v.Salt, v.Iterations)
	return hmac.Equal(w.StoredKey, v.StoredKey) && hmac.Equal(w.ServerKey, v.ServerKey)
}

// saslPrep is SASLprep for the passwords it leaves unchanged: PostgreSQL uses
// a password as it is when it is plain ASCII. Other passwords are used as
// their bytes too (PostgreSQL normalises them with NFKC first).
func saslPrep(s string) string { return s }

// pbkdf2SHA256 is PBKDF2 (RFC 8018) with HMAC-SHA-256.
func pbkdf2SHA256(password, salt []byte, iter, keyLen int) []byte {
	prf := hmac.New(sha256.New, password)
	var out []byte
	for block := uint32(1); len(out) < keyLen; block++ {
		prf.Reset()
		prf.Write(salt)
		prf.Write([]byte{byte(block >> 24), byte(block >> 16), byte(block >> 8), byte(block)})
		u := prf.Sum(nil)
		t := append([]byte(nil), u...)
		for i := 1; i < iter; i++ {
			prf.Reset()
			prf.Write(u)
			u = prf.Sum(u[:0])
			for j := range t {
				t[j] ^= u[j]
			}
		}
		out = append(out, t...)
	}
	return out[:keyLen]
}

func hmacSHA256(key, msg []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(msg)
	return m.Sum(nil)
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	return b
}

// MD5Hash is what PostgreSQL stores for an md5 password: "md5" + hex(md5(password + user)).
func MD5Hash(password, user string) string {
	sum := md5.Sum([]byte(password + user))
	return "md5" + hex.EncodeToString(sum[:])
}

// MD5Salt returns the 4 random bytes of an AuthenticationMD5Password request.
func MD5Salt() [4]byte {
	var s [4]byte
	copy(s[:], randomBytes(4))
	return s
}

// CheckMD5Response checks a client's answer to an md5 challenge with salt
// against the stored md5 hash ("md5..." ) of the user's password.
func CheckMD5Response(storedHash string, salt [4]byte, response string) bool {
	sum := md5.Sum(append([]byte(strings.TrimPrefix(storedHash, "md5")), salt[:]...))
	want := "md5" + hex.EncodeToString(sum[:])
	return subtle.ConstantTimeCompare([]byte(want), []byte(response)) == 1
}

// CheckPlain checks a password sent in clear against a stored secret of any kind.
func CheckPlain(s Secret, user, password string) bool {
	switch s.Kind {
	case SecretMD5:
		return subtle.ConstantTimeCompare([]byte(MD5Hash(password, user)), []byte(s.Value)) == 1
	case SecretSCRAM:
		return s.SCRAM.Verify(password)
	default:
		return subtle.ConstantTimeCompare([]byte(password), []byte(s.Value)) == 1
	}
}

// ---- the server side of a SCRAM-SHA-256 exchange ----

// ErrPasswordMismatch is the outcome of a SCRAM exchange whose proof is wrong
// (or that could not succeed: no such user, no usable secret).
var ErrPasswordMismatch = errors.New("password does not match")

// SCRAMError is a malformed or inconsistent SCRAM message from the client
// (SQLSTATE 08P01).
type SCRAMError struct {
	Message string
	Detail  string
}

func (e *SCRAMError) Error() string {
	if e.Detail == "" {
		return e.Message
	}
	return e.Message + ": " + e.Detail
}

func malformed(format string, a ...any) error {
	return &SCRAMError{Message: "malformed SCRAM message", Detail: fmt.Sprintf(format, a...)}
}

// SCRAMServer runs one SCRAM-SHA-256 exchange (RFC 5802, RFC 7677) as
// PostgreSQL does: the user name in the client's message is ignored (the
// startup packet's counts).
type SCRAMServer struct {
	v      *SCRAMVerifier
	doomed bool // no usable secret: the exchange runs with a mock one and fails

	// cbData is the tls-server-end-point channel binding data of the server
	// certificate; nil when the connection offers no channel binding.
	cbData []byte

	mech            string
	gs2Header       string
	clientFirstBare string
	serverFirst     string
	nonce           string
	state           int
	serverNonce     func() string // tests fix the server's nonce
}

// NewSCRAMServer prepares an exchange for a user whose stored secret is s;
// ok false means the user has no usable secret, and the exchange is run to
// its end with a mock verifier derived from mockKey and user, then fails.
// cbData, when not nil, is the channel binding data (see ChannelBindingData).
func NewSCRAMServer(s Secret, ok bool, user string, mockKey []byte, cbData []byte) *SCRAMServer {
	srv := &SCRAMServer{cbData: cbData}
	switch {
	case ok && s.Kind == SecretSCRAM:
		srv.v = s.SCRAM
	case ok && s.Kind == SecretPlain:
		srv.v = NewSCRAMVerifier(s.Value, randomBytes(scramSaltLen), DefaultSCRAMIterations)
	default:
		// PostgreSQL's mock: a salt that is the same for the same user name,
		// so that the reply does not tell whether the user exists.
		salt := hmacSHA256(mockKey, []byte(user))[:scramSaltLen]
		srv.v = &SCRAMVerifier{Iterations: DefaultSCRAMIterations, Salt: salt,
			StoredKey: make([]byte, scramKeyLen), ServerKey: make([]byte, scramKeyLen)}
		srv.doomed = true
	}
	return srv
}

// Mechanisms lists the mechanisms to advertise: SCRAM-SHA-256-PLUS first
// when channel binding is available.
func (s *SCRAMServer) Mechanisms() []string {
	if s.cbData != nil {
		return []string{MechSCRAMPlus, MechSCRAM}
	}
	return []string{MechSCRAM}
}

// First handles the client-first-message sent with the chosen mechanism and
// returns the server-first-message.
func (s *SCRAMServer) First(mech string, msg []byte) ([]byte, error) {
	if s.state != 0 {
		return nil, &SCRAMError{Message: "SCRAM exchange out of order"}
	}
	s.state = 1
	switch {
	case mech == MechSCRAM:
	case mech == MechSCRAMPlus && s.cbData != nil:
	default:
		return nil, &SCRAMError{Message: "client selected an invalid SASL authentication mechanism"}
	}
	s.mech = mech
	in := string(msg)
	// gs2-cbind-flag
	if in == "" {
		return nil, malformed("The message is empty.")
	}
	var rest string
	switch in[0] {
	case 'n':
		if mech == MechSCRAMPlus {
			return nil, malformed("The client selected SCRAM-SHA-256-PLUS, but the SCRAM message does not include channel binding data.")
		}
		rest = in[1:]
	case 'y':
		if s.cbData != nil {
			return nil, &SCRAMError{Message: "SCRAM channel binding negotiation error",
				Detail: "The client supports SCRAM channel binding but thinks the server does not.  However, this server does support channel binding."}
		}
		if mech == MechSCRAMPlus {
			return nil, malformed("The client selected SCRAM-SHA-256-PLUS, but the SCRAM message does not include channel binding data.")
		}
		rest = in[1:]
	case 'p':
		if mech != MechSCRAMPlus {
			return nil, malformed("The client selected SCRAM-SHA-256 without channel binding, but the SCRAM message includes channel binding data.")
		}
		name, after, ok := strings.Cut(in[1:], ",")
		if !ok || !strings.HasPrefix(name, "=") {
			return nil, malformed("Expected channel binding type.")
		}
		if name[1:] != cbTypeEndPoint {
			return nil, &SCRAMError{Message: "unsupported SCRAM channel-binding type \"" + name[1:] + "\""}
		}
		rest = "," + after
	default:
		return nil, malformed("Unexpected channel-binding flag \"%c\".", in[0])
	}
	if !strings.HasPrefix(rest, ",") {
		return nil, malformed("Comma expected, but found character \"%s\".", firstChar(rest))
	}
	rest = rest[1:]
	// authzid: PostgreSQL accepts none.
	if strings.HasPrefix(rest, "a=") {
		return nil, &SCRAMError{Message: "client uses authorization identity, but it is not supported"}
	}
	if !strings.HasPrefix(rest, ",") {
		return nil, malformed("Unexpected attribute \"%s\" in client-first-message.", firstChar(rest))
	}
	s.gs2Header = in[:len(in)-len(rest)+1]
	s.clientFirstBare = rest[1:]
	attrs := strings.Split(s.clientFirstBare, ",")
	if len(attrs) > 0 && strings.HasPrefix(attrs[0], "m=") {
		return nil, &SCRAMError{Message: "client requires an unsupported SCRAM extension"}
	}
	if len(attrs) < 2 || !strings.HasPrefix(attrs[0], "n=") {
		return nil, malformed("Expected attribute \"n\" in client-first-message.")
	}
	if !strings.HasPrefix(attrs[1], "r=") || len(attrs[1]) == 2 {
		return nil, malformed("Expected attribute \"r\" in client-first-message.")
	}
	clientNonce := attrs[1][2:]
	for _, ch := range clientNonce {
		if ch < 0x21 || ch > 0x7e || ch == ',' {
			return nil, malformed("The client nonce contains an invalid character.")
		}
	}
	if s.serverNonce != nil {
		s.nonce = clientNonce + s.serverNonce()
	} else {
		s.nonce = clientNonce + base64.StdEncoding.EncodeToString(randomBytes(scramNonceLen))
	}
	s.serverFirst = fmt.Sprintf("r=%s,s=%s,i=%d", s.nonce, base64.StdEncoding.EncodeToString(s.v.Salt), s.v.Iterations)
	return []byte(s.serverFirst), nil
}

// Final handles the client-final-message and returns the
// server-final-message; ErrPasswordMismatch when the proof is wrong.
func (s *SCRAMServer) Final(msg []byte) ([]byte, error) {
	if s.state != 1 {
		return nil, &SCRAMError{Message: "SCRAM exchange out of order"}
	}
	s.state = 2
	in := string(msg)
	idx := strings.LastIndex(in, ",p=")
	if idx < 0 {
		return nil, malformed("Could not find proof in client-final-message.")
	}
	withoutProof := in[:idx]
	proof, err := base64.StdEncoding.DecodeString(in[idx+3:])
	if err != nil || len(proof) != scramKeyLen {
		return nil, malformed("Malformed proof in client-final-message.")
	}
	attrs := strings.Split(withoutProof, ",")
	if len(attrs) < 2 || !strings.HasPrefix(attrs[0], "c=") {
		return nil, malformed("Expected attribute \"c\" in client-final-message.")
	}
	cb, err := base64.StdEncoding.DecodeString(attrs[0][2:])
	if err != nil {
		return nil, malformed("Invalid channel binding data.")
	}
	want := []byte(s.gs2Header)
	if s.mech == MechSCRAMPlus {
		want = append(want, s.cbData...)
	}
	if !hmac.Equal(cb, want) {
		if s.mech == MechSCRAMPlus {
			return nil, &SCRAMError{Message: "SCRAM channel binding check failed"}
		}
		return nil, &SCRAMError{Message: "unexpected SCRAM channel-binding attribute in client-final-message"}
	}
	if !strings.HasPrefix(attrs[1], "r=") || attrs[1][2:] != s.nonce {
		return nil, malformed("The client nonce does not match.")
	}
	authMsg := []byte(s.clientFirstBare + "," + s.serverFirst + "," + withoutProof)
	clientSig := hmacSHA256(s.v.StoredKey, authMsg)
	clientKey := make([]byte, scramKeyLen)
	for i := range clientKey {
		clientKey[i] = proof[i] ^ clientSig[i]
	}
	got := sha256.Sum256(clientKey)
	if s.doomed || !hmac.Equal(got[:], s.v.StoredKey) {
		return nil, ErrPasswordMismatch
	}
	serverSig := hmacSHA256(s.v.ServerKey, authMsg)
	return []byte("v=" + base64.StdEncoding.EncodeToString(serverSig)), nil
}

func firstChar(s string) string {
	if s == "" {
		return ""
	}
	return s[:1]
}

// ChannelBindingData is the tls-server-end-point binding (RFC 5929) of a
// server certificate: its hash with the certificate's signature hash, SHA-256
// for MD5 and SHA-1. ok is false when the signature algorithm has no such
// hash (Ed25519): channel binding is then not offered.
func ChannelBindingData(cert *x509.Certificate) ([]byte, bool) {
	var h hash.Hash
	switch cert.SignatureAlgorithm {
	case x509.MD5WithRSA, x509.SHA1WithRSA, x509.ECDSAWithSHA1, x509.DSAWithSHA1,
		x509.SHA256WithRSA, x509.SHA256WithRSAPSS, x509.ECDSAWithSHA256, x509.DSAWithSHA256:
		h = sha256.New()
	case x509.SHA384WithRSA, x509.SHA384WithRSAPSS, x509.ECDSAWithSHA384:
		h = sha512New384()
	case x509.SHA512WithRSA, x509.SHA512WithRSAPSS, x509.ECDSAWithSHA512:
		h = sha512New()
	default:
		return nil, false
	}
	h.Write(cert.Raw)
	return h.Sum(nil), true
}

func sha512New384() hash.Hash { return sha512.New384() }
func sha512New() hash.Hash    { return sha512.New() }
