package db

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Unavailable reports whether err means the database could not take the statement at all right
// now, through no fault of the request: nothing answered (no primary while a replica is being
// promoted, a server restarting), the server is shutting down or not yet accepting, PgBouncer
// could not log in to it, or the server that took a write has just become a replica. Such a
// request deserves a fast 503 with Retry-After, never a 500: it will succeed once a server
// takes it again.
func Unavailable(err error) bool {
	// The caller's own deadline or cancellation is not the database's doing (and a deadline
	// error would pass for a net.Error below).
	if err == nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
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

// TimedOut reports whether err means the statement ran out of time: the database cancelled it
// (StatementTimedOut), or a deadline passed first (the context it ran under, or pgx's connect
// timeout: a server that stopped answering, as behind a network partition, is only ever noticed
// that way). Either way the request deserves a 503 with Retry-After, not a 500.
func TimedOut(err error) bool {
	return StatementTimedOut(err) || errors.Is(err, context.DeadlineExceeded)
}

// StatementTimedOut reports whether the database cancelled the statement because it ran past
// statement_timeout (SQLSTATE 57014, query_canceled): the statement's fault, which another
// server would take as long over.
func StatementTimedOut(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "57014"
}

// NotSent reports whether err happened before the statement reached the server (a failed
// connect, or a connection found broken before anything was written): the statement certainly
// did not run, so a write may be retried without asking whether it committed.
func NotSent(err error) bool {
	var connErr *pgconn.ConnectError
	return errors.As(err, &connErr) || pgconn.SafeToRetry(err)
}

// WaitForPrimary returns once url reaches a server that takes writes, on several connections in
// a row, trying every second for at most within. A migration started with the cluster may find
// no leader yet, or reach a member that is still a replica: HAProxy takes every server for up
// until its checks say otherwise, which takes seconds after HAProxy (re)starts, and a balancer
// that sends one connection to the leader may send the next to a replica. Anything else, such as
// a refused login, fails at once.
func WaitForPrimary(ctx context.Context, url string, within time.Duration) error {
	return waitForPrimary(ctx, func(ctx context.Context) error { return primary(ctx, url) }, within, 5*time.Second)
}

// primaryInARow is how many connections in a row must reach a primary: HAProxy's pg_write has
// three members, and round robin over them sends three new connections to three of them.
const primaryInARow = 3

func waitForPrimary(ctx context.Context, try func(context.Context) error, within, perTry time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	inARow := 0
	for {
		// Each try within a few seconds: a balancer with no server to send it to may hold the
		// connection without an answer, and a try that runs out of time is tried again.
		tryCtx, cancelTry := context.WithTimeout(ctx, perTry)
		err := try(tryCtx)
		tryTimedOut := tryCtx.Err() != nil && ctx.Err() == nil
		cancelTry()
		if err == nil {
			if inARow++; inARow == primaryInARow {
				return nil
			}
			continue
		}
		inARow = 0
		if !Unavailable(err) && !tryTimedOut {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no primary within %s: %w", within, err)
		case <-time.After(time.Second):
		}
	}
}

// primary connects to url and fails with an Unavailable error unless the server takes writes.
func primary(ctx context.Context, url string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var inRecovery bool
	if err := conn.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&inRecovery); err != nil {
		return err
	}
	if inRecovery {
		return &pgconn.PgError{Code: "25006", Message: "the server is a replica"}
	}
	return nil
}
