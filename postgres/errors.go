package postgres

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/redeliver/redeliver"
)

// ErrUnavailable is in the chain of every error met because PostgreSQL did
// not answer: it is down, restarting, unreachable, out of connections, or
// the connection broke. Such errors carry the code EInternal. Nothing was
// written by the call that failed, or (for a commit that broke) the caller
// cannot know: the engine's intents cover that case. A caller that polls
// (serve) waits and retries; a run stops.
var ErrUnavailable = errors.New("PostgreSQL unavailable")

// ErrLeaseHeld is in the chain of the EConflict error Lease returns when
// another owner holds a live lease on the target, or a run holds the state.
var ErrLeaseHeld = errors.New("lease held by another owner")

// ErrLeaseLost is in the chain of the EConflict error of a fenced write or a
// Renew whose lease expired or was taken over: nothing was written.
var ErrLeaseLost = errors.New("lease lost")

// cause is a pgx error with the secrets taken out of its text. Unwrap keeps
// the original for errors.Is and errors.As.
type cause struct {
	msg         string
	err         error
	unavailable bool
}

func (c *cause) Error() string { return c.msg }
func (c *cause) Unwrap() []error {
	if c.unavailable {
		return []error{ErrUnavailable, c.err}
	}
	return []error{c.err}
}

// dbErr gives an error from pgx a code and the state's name, with every
// secret scrubbed from its text; nil stays nil. Refused credentials and
// missing privileges are EInvalid (exit 2, a setting to fix), as a state
// file without permission is; exit 3 stays GitHub's.
func (s *Store) dbErr(err error) error {
	if err == nil {
		return nil
	}
	var re *redeliver.Error
	if errors.As(err, &re) {
		return err // ours already
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		if !unavailable(err) {
			return err
		}
	}
	c := &cause{msg: scrub(err.Error(), s.secrets), err: err, unavailable: unavailable(err)}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case strings.HasPrefix(pe.Code, "28"): // invalid_authorization_specification, invalid_password
			return &redeliver.Error{Code: redeliver.EInvalid, Err: c,
				Message: "state " + s.name + ": PostgreSQL refused the credentials (check the user, PGPASSWORD, passfile or password_file)"}
		case pe.Code == "42501": // insufficient_privilege
			return &redeliver.Error{Code: redeliver.EInvalid, Err: c,
				Message: "state " + s.name + ": the PostgreSQL role lacks a privilege redeliver needs (see the README: Shared state on PostgreSQL)"}
		case pe.Code == "3D000": // invalid_catalog_name
			return &redeliver.Error{Code: redeliver.EInvalid, Err: c, Message: "state " + s.name + ": no such database"}
		case pe.Code == "25006": // read_only_sql_transaction
			return &redeliver.Error{Code: redeliver.EInvalid, Err: c, Message: "state " + s.name + " is read-only here"}
		}
	}
	if c.unavailable {
		return &redeliver.Error{Code: redeliver.EInternal, Err: c, Message: "state " + s.name + ": PostgreSQL unavailable"}
	}
	return &redeliver.Error{Code: redeliver.EInternal, Err: c, Message: "state " + s.name}
}

// unavailable tells errors of a server that did not answer from errors of
// one that answered no.
func unavailable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case strings.HasPrefix(pe.Code, "08"), // connection_exception
			pe.Code == "57P01", pe.Code == "57P02", pe.Code == "57P03", // shutting down, starting up
			pe.Code == "53300": // too_many_connections
			return true
		}
		return false
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) || errors.Is(err, pgconn.ErrConnClosed) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		pgconn.Timeout(err) || strings.Contains(err.Error(), "conn closed") || strings.Contains(err.Error(), "closed pool")
}
