package server

import (
	"context"
	"net"

	"github.com/jackc/pgx/v5/pgproto3"
)

// Startup is what a client sent in its StartupMessage.
type Startup struct {
	User       string
	Database   string
	Params     map[string]string // every startup parameter, user and database included
	RemoteAddr net.Addr
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
