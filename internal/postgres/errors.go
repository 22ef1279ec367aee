package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/reactivation/reactivation/internal/errs"
)

// SQLSTATE codes the adapter gives a domain meaning.
const (
	uniqueViolation     = "23505"
	undefinedTable      = "42P01"
	adminShutdown       = "57P01"
	cannotConnectNow    = "57P03"
	tooManyConnections  = "53300"
	connectionException = "08" // class
)

// translate gives a driver error its domain code, once, at the edge: no
// rows is NotFound, a unique violation Conflict, a database that cannot be
// reached (refused, reset, shutting down, out of connections) Unavailable.
// Anything else stays uncoded (internal). what names the operation; the
// domain meaning of NotFound and Conflict is given by the callers that
// expect them (see notFound, conflictOn).
func translate(err error, what string) error {
	if err == nil {
		return nil
	}
	var coded *errs.Error
	if errors.As(err, &coded) {
		return err // already the domain's
	}
	var pgErr *pgconn.PgError
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return &errs.Error{Code: errs.NotFound, Message: what + ": not found", Err: err}
	case errors.As(err, &pgErr) && pgErr.Code == uniqueViolation:
		return &errs.Error{Code: errs.Conflict, Message: what + ": already exists", Err: err}
	case unreachable(err):
		return &errs.Error{Code: errs.Unavailable, Message: "the service database is unavailable", Err: fmt.Errorf("%s: %w", what, err)}
	}
	return fmt.Errorf("%s: %w", what, err)
}

// unreachable reports whether err says the database could not be reached
// or dropped the connection, rather than refusing the statement.
func unreachable(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false // the caller went away; not the database's fault
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &connectErr), errors.As(err, &netErr), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return true
	case errors.As(err, &pgErr):
		c := pgErr.Code
		return c == adminShutdown || c == cannotConnectNow || c == tooManyConnections || strings.HasPrefix(c, connectionException)
	}
	return pgconn.SafeToRetry(err) || pgconn.Timeout(err)
}

// notFound is translate with the domain's own not-found error for no rows.
func notFound(err error, what string, domain error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return domain
	}
	return translate(err, what)
}

// constraintOf returns the constraint a unique violation names, or "".
func constraintOf(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == uniqueViolation {
		return pgErr.ConstraintName
	}
	return ""
}
