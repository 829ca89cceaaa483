package server

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/xlgo/xlgo/auth"
	"github.com/xlgo/xlgo/pgerr"
)

// maxAuthMessageLen is PostgreSQL's PG_MAX_AUTH_TOKEN_LENGTH: the longest
// authentication message a client may send.
const maxAuthMessageLen = 65535

// PasswordSource gives the stored passwords that md5, scram-sha-256 and
// password rules check clients against.
type PasswordSource interface {
	// Secret returns user's stored password: in clear, an md5 hash or a SCRAM
	// verifier. ok is false when the user does not exist, has no password or
	// its password has expired; reason then says which, for the log.
	Secret(ctx context.Context, user string) (secret string, ok bool, reason string, err error)
}

// UserlistSource is a PasswordSource of a userlist file (pgbouncer's format).
type UserlistSource struct{ Users auth.Userlist }

// Secret implements PasswordSource.
func (u UserlistSource) Secret(_ context.Context, user string) (string, bool, string, error) {
	s, ok := u.Users[user]
	switch {
	case !ok:
		return "", false, fmt.Sprintf("Role %q is not in the userlist file.", user), nil
	case s == "":
		return "", false, fmt.Sprintf("User %q has no password assigned.", user), nil
	}
	return s, true, "", nil
}

// connInfo describes the connection for rule matching.
func (c *clientConn) connInfo(st Startup) auth.ConnInfo {
	info := auth.ConnInfo{Local: c.local, SSL: c.tlsOn, Database: st.Database, User: st.User}
	if ta, ok := c.nc.RemoteAddr().(*net.TCPAddr); ok && !c.local {
		info.Addr = ta.IP
	}
	return info
}

// authenticate checks the client against the first matching rule and runs
// the rule's method; it reports whether the client may go on. On failure the
// client has been sent its FATAL error.
func (c *clientConn) authenticate(st Startup) bool {
	hba := c.live.hba
	info := c.connInfo(st)
	rule, ok := hba.Match(info)
	if !ok {
		c.authFailed(&pgconn.PgError{Code: pgerr.InvalidAuthorizationSpecification,
			Message: "no pg_hba.conf entry for " + auth.DescribeConn(info),
			Detail:  fmt.Sprintf("No rule of %s matches the connection.", ruleSource(hba))}, "no matching rule")
		return false
	}
	where := fmt.Sprintf("%s line %d: %q", ruleSource(hba), rule.Line, rule.Text)
	switch rule.Method {
	case auth.MethodTrust:
		return true
	case auth.MethodReject:
		c.authFailed(&pgconn.PgError{Code: pgerr.InvalidAuthorizationSpecification,
			Message: "pg_hba.conf rejects connection for " + auth.DescribeConn(info),
			Detail:  "Rejected by " + where + "."}, "rejected by rule", "rule", where)
		return false
	}

	ctx, cancel := context.WithTimeout(c.ctx, c.live.startupTimeout)
	defer cancel()
	var (
		secret auth.Secret
		found  bool
		reason string
	)
	if c.srv.opts.Passwords == nil {
		reason = "No password source is configured."
	} else {
		raw, ok, why, err := c.srv.opts.Passwords.Secret(ctx, st.User)
		if err != nil {
			c.log.Warn("could not read the password of a user", "user", st.User, "err", err)
			pgErr := toPgError(err)
			c.sendFatal(&pgconn.PgError{Code: pgErr.Code, Message: "could not read the password of user \"" + st.User + "\": " + pgErr.Message})
			return false
		}
		secret, found, reason = auth.ParseSecret(raw), ok, why
	}

	c.setMaxBody(maxAuthMessageLen)
	defer c.setMaxBody(max(c.srv.opts.MaxMessageSize-4, 1))
	defer c.be.SetAuthType(pgproto3.AuthTypeOk)

	var err error
	switch {
	case rule.Method == auth.MethodPassword:
		err = c.authPassword(st.User, secret, found)
	case rule.Method == auth.MethodMD5 && !(found && secret.Kind == auth.SecretSCRAM):
		// An md5 rule runs SCRAM for a user whose secret is a SCRAM verifier, as PostgreSQL does.
		err = c.authMD5(st.User, secret, found)
	default:
		if found && secret.Kind == auth.SecretMD5 {
			found, reason = false, fmt.Sprintf("User %q does not have a valid SCRAM secret.", st.User)
		}
		err = c.authSCRAM(st.User, secret, found)
	}
	switch {
	case err == nil:
		c.log.Debug("client authenticated", "user", st.User, "method", rule.Method, "rule", where)
		return true
	case errors.Is(err, errClientGone):
		return false
	case errors.Is(err, auth.ErrPasswordMismatch):
		if reason == "" {
			reason = fmt.Sprintf("Password does not match for user %q.", st.User)
		}
		c.authFailed(&pgconn.PgError{Code: pgerr.InvalidPassword,
			Message: fmt.Sprintf("password authentication failed for user %q", st.User)},
			"password authentication failed", "user", st.User, "detail", reason, "rule", where)
		return false
	default:
		var se *auth.SCRAMError
		var pgErr *pgconn.PgError
		if errors.As(err, &se) {
			pgErr = &pgconn.PgError{Code: pgerr.ProtocolViolation, Message: se.Message, Detail: se.Detail}
		} else if !errors.As(err, &pgErr) {
			pgErr = protocolError(err.Error())
		}
		c.authFailed(pgErr, "authentication failed", "user", st.User)
		return false
	}
}

func ruleSource(h *auth.HBA) string {
	if h.Source == "" {
		return "the coordinator's rule list"
	}
	if h.Source == auth.DefaultRuleSource {
		return h.Source
	}
	return "the coordinator's rule list " + h.Source
}

// authFailed logs a refused client and sends it its error.
func (c *clientConn) authFailed(pgErr *pgconn.PgError, what string, attrs ...any) {
	c.log.Info(what, append([]any{"code", pgErr.Code, "err", pgErr.Message}, attrs...)...)
	c.sendFatal(pgErr)
}

// errClientGone ends an authentication exchange the client left.
var errClientGone = errors.New("client ended the authentication exchange")

// authRequest sends an authentication request and returns the client's
// answer, decoded as authType's response.
func (c *clientConn) authRequest(req pgproto3.BackendMessage, authType uint32) (pgproto3.FrontendMessage, error) {
	c.be.Send(req)
	if err := c.flush(); err != nil {
		return nil, errClientGone
	}
	if err := c.be.SetAuthType(authType); err != nil {
		return nil, err
	}
	msg, err := c.be.Receive()
	if err != nil {
		if c.readFailed.Load() || c.ctx.Err() != nil {
			if isTimeout(err) || c.srv.isClosed() {
				c.log.Info("authentication did not complete in time", "timeout", c.live.startupTimeout)
			} else {
				// psql does this before it asks for the password.
				c.log.Debug("client closed the connection during authentication")
			}
			return nil, errClientGone
		}
		var tooBig *pgproto3.ExceededMaxBodyLenErr
		if errors.As(err, &tooBig) {
			return nil, protocolError("invalid message length")
		}
		return nil, protocolError("invalid message format")
	}
	if _, ok := msg.(*pgproto3.Terminate); ok {
		return nil, errClientGone
	}
	return msg, nil
}

// authPassword runs the password method: the password in clear.
func (c *clientConn) authPassword(user string, secret auth.Secret, found bool) error {
	msg, err := c.authRequest(&pgproto3.AuthenticationCleartextPassword{}, pgproto3.AuthTypeCleartextPassword)
	if err != nil {
		return err
	}
	pm, ok := msg.(*pgproto3.PasswordMessage)
	if !ok {
		return protocolError(fmt.Sprintf("expected password response, got message type %d", frontendType(msg)))
	}
	if pm.Password == "" {
		return protocolError("empty password returned by client")
	}
	if !found || !auth.CheckPlain(secret, user, pm.Password) {
		return auth.ErrPasswordMismatch
	}
	return nil
}

// authMD5 runs the md5 method; a user without a secret still gets the
// challenge, so that the exchange does not tell whether the user exists.
func (c *clientConn) authMD5(user string, secret auth.Secret, found bool) error {
	salt := auth.MD5Salt()
	msg, err := c.authRequest(&pgproto3.AuthenticationMD5Password{Salt: salt}, pgproto3.AuthTypeMD5Password)
	if err != nil {
		return err
	}
	pm, ok := msg.(*pgproto3.PasswordMessage)
	if !ok {
		return protocolError(fmt.Sprintf("expected password response, got message type %d", frontendType(msg)))
	}
	if pm.Password == "" {
		return protocolError("empty password returned by client")
	}
	if !found {
		return auth.ErrPasswordMismatch
	}
	hash := secret.Value
	if secret.Kind == auth.SecretPlain {
		hash = auth.MD5Hash(secret.Value, user)
	}
	if !auth.CheckMD5Response(hash, salt, pm.Password) {
		return auth.ErrPasswordMismatch
	}
	return nil
}

// authSCRAM runs SCRAM-SHA-256 (and SCRAM-SHA-256-PLUS over TLS).
func (c *clientConn) authSCRAM(user string, secret auth.Secret, found bool) error {
	var cb []byte
	if c.tlsOn && c.live.tls != nil {
		cb = c.live.tls.CBData
	}
	s := auth.NewSCRAMServer(secret, found, user, c.srv.mockKey[:], cb)
	msg, err := c.authRequest(&pgproto3.AuthenticationSASL{AuthMechanisms: s.Mechanisms()}, pgproto3.AuthTypeSASL)
	if err != nil {
		return err
	}
	first, ok := msg.(*pgproto3.SASLInitialResponse)
	if !ok {
		return protocolError(fmt.Sprintf("expected SASL response, got message type %d", frontendType(msg)))
	}
	serverFirst, err := s.First(first.AuthMechanism, append([]byte(nil), first.Data...))
	if err != nil {
		return err
	}
	msg, err = c.authRequest(&pgproto3.AuthenticationSASLContinue{Data: serverFirst}, pgproto3.AuthTypeSASLContinue)
	if err != nil {
		return err
	}
	final, ok := msg.(*pgproto3.SASLResponse)
	if !ok {
		return protocolError(fmt.Sprintf("expected SASL response, got message type %d", frontendType(msg)))
	}
	serverFinal, err := s.Final(append([]byte(nil), final.Data...))
	if err != nil {
		return err
	}
	// AuthenticationOk follows in the same flush.
	c.be.Send(&pgproto3.AuthenticationSASLFinal{Data: serverFinal})
	return nil
}

// frontendType is the type byte of a message received during authentication.
func frontendType(msg pgproto3.FrontendMessage) byte {
	switch msg.(type) {
	case *pgproto3.Query:
		return 'Q'
	case *pgproto3.Parse:
		return 'P'
	case *pgproto3.Sync:
		return 'S'
	case *pgproto3.PasswordMessage, *pgproto3.SASLInitialResponse, *pgproto3.SASLResponse, *pgproto3.GSSResponse:
		return 'p'
	}
	return 0
}
