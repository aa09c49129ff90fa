package db

import (
	"errors"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// Unavailable reports whether err means the database could not take the statement at all right
// now, through no fault of the request: nothing answered (no primary while a replica is being
// promoted, a server restarting), the server is shutting down or not yet accepting, PgBouncer
// could not log in to it, or the server that took a write has just become a replica. Such a
// request deserves a fast 503 with Retry-After, never a 500: it will succeed once a server
// takes it again.
func Unavailable(err error) bool {
	if err == nil {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "57P01", // admin_shutdown: the server is stopping (a switchover, a restart)
			"57P02", // crash_shutdown
			"57P03", // cannot_connect_now: starting up, or a standby not yet accepting
			"25006": // read_only_sql_transaction: a write reached a server that is now a replica
			return true
		}
		// Class 08, connection exceptions: PgBouncer sends its own failures ("server login
		// has been failing", "query_wait_timeout") as 08P01.
		return strings.HasPrefix(pgErr.Code, "08")
	}
	var connErr *pgconn.ConnectError
	var netErr net.Error
	return errors.As(err, &connErr) || errors.As(err, &netErr) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// NotSent reports whether err happened before the statement reached the server (a failed
// connect, or a connection found broken before anything was written): the statement certainly
// did not run, so a write may be retried without asking whether it committed.
func NotSent(err error) bool {
	var connErr *pgconn.ConnectError
	return errors.As(err, &connErr) || pgconn.SafeToRetry(err)
}
