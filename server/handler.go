package server

import (
	"context"
	"net"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
)

// Startup is what a client sent in its StartupMessage.
type Startup struct {
	User       string
	Database   string
	Params     map[string]string // every startup parameter, user and database included
	RemoteAddr net.Addr
	// Terminate ends the connection as pg_terminate_backend does: the
	// running statement stops, the client gets FATAL 57P01 and the
	// session closes. It may be called from any goroutine.
	Terminate func()
}

// ParamStatus is one ParameterStatus the server reports to the client.
type ParamStatus struct{ Name, Value string }

// ResultWriter receives the results of the statements a Session runs for one
// protocol message. Values passed in are copied or written before it returns.
type ResultWriter interface {
	RowDescription(fields []pgproto3.FieldDescription) error
	DataRow(values [][]byte) error
	CommandComplete(tag string) error
	EmptyQuery() error
	Notice(n *pgproto3.NoticeResponse) error
	ParameterStatus(name, value string) error

	// COPY's sub-protocol.
	// CopyInResponse asks the client for COPY data; ReceiveCopyData then
	// returns each CopyData payload, io.EOF at CopyDone, and an error (57014)
	// at CopyFail.
	CopyInResponse(format byte, columnFormats []uint16) error
	ReceiveCopyData() ([]byte, error)
	// CopyOutResponse starts sending COPY data; CopyData sends a chunk and
	// CopyDone ends it.
	CopyOutResponse(format byte, columnFormats []uint16) error
	CopyData(data []byte) error
	CopyDone() error
}

// Session runs the statements of one client connection.
type Session interface {
	// SimpleQuery runs the text of one Query message (zero or more statements).
	// An error ends the message; a *pgconn.PgError is sent as it is, any other
	// error as XX000. The wire layer then sends ReadyForQuery(TxStatus()).
	SimpleQuery(ctx context.Context, sql string, w ResultWriter) error
	// TxStatus is 'I' (idle), 'T' (in a transaction block) or 'E' (failed block).
	TxStatus() byte
	// Cancel asks the statement running now, if any, to stop (CancelRequest).
	Cancel()
	// Close releases everything the session holds; called once when the client goes.
	Close()
}

// Engine makes sessions; the coordinator provides one.
type Engine interface {
	// NewSession authenticates nothing (the wire layer did) and prepares a
	// session; the returned parameters are sent as ParameterStatus messages.
	// A *pgconn.PgError is sent to the client as a FATAL ErrorResponse.
	NewSession(ctx context.Context, st Startup) (Session, []ParamStatus, error)
}

// ExtendedSession is a Session that also runs the extended query protocol.
// A method's error is sent as an ErrorResponse, after which the wire layer
// skips messages until Sync.
type ExtendedSession interface {
	Session
	// Parse makes a prepared statement ("" is the unnamed one).
	Parse(ctx context.Context, name, sql string, paramOIDs []uint32) error
	// Bind makes a portal from a prepared statement and parameter values.
	Bind(ctx context.Context, portal, stmt string, paramFormats []int16, params [][]byte, resultFormats []int16) error
	// DescribeStatement gives a statement's parameter types and result
	// columns (nil fields: it returns no rows).
	DescribeStatement(ctx context.Context, name string) (paramOIDs []uint32, fields []pgproto3.FieldDescription, err error)
	// DescribePortal gives a portal's result columns in their result formats.
	DescribePortal(ctx context.Context, name string) ([]pgproto3.FieldDescription, error)
	// Execute runs a portal, sending at most maxRows rows (0: all); it
	// reports whether the portal was suspended with rows left.
	Execute(ctx context.Context, portal string, maxRows uint32, w ResultWriter) (suspended bool, err error)
	// CloseObject drops a prepared statement ('S') or a portal ('P').
	CloseObject(ctx context.Context, kind byte, name string) error
	// Sync ends an extended-protocol batch: its implicit transaction
	// commits (or rolls back after an error).
	Sync(ctx context.Context) error
}

// IdleLimiter is a Session that limits how long its client may stay idle
// inside a transaction (idle_in_transaction_session_timeout); 0 is no limit.
type IdleLimiter interface {
	IdleInTransactionTimeout() time.Duration
}
