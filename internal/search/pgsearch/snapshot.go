package pgsearch

import (
	"context"
	"fmt"

	"github.com/reactivation/reactivation/internal/search"
	"github.com/reactivation/reactivation/internal/segment"
	"github.com/reactivation/reactivation/internal/snapshot"
)

var _ snapshot.SQLSource = (*Engine)(nil)

// SnapshotSQL implements snapshot.SQLSource: the engine's generations are
// tables of the service database, so a large-segment snapshot is copied
// from the serving view by the database itself, the documents never
// leaving it (snapshot.Store). ok is false while no generation serves
// (the scan answers that with no rows).
func (e *Engine) SnapshotSQL(ctx context.Context, q search.Query) (snapshot.SQLQuery, bool, error) {
	plan, err := segment.NewPlan(q.Filter, q.Sort, q.Size, DefaultScanSize, "", q.Now, q.Location)
	if err != nil {
		return snapshot.SQLQuery{}, false, err
	}
	var exists bool
	if err := e.pool.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", quote(e.view)).Scan(&exists); err != nil {
		return snapshot.SQLQuery{}, false, fmt.Errorf("snapshot of %s: %w", e.view, err)
	}
	if !exists {
		return snapshot.SQLQuery{}, false, nil
	}
	key, err := sortKeySQL(q.Sort)
	if err != nil {
		return snapshot.SQLQuery{}, false, err
	}
	where, args := Where(plan.Filter, plan.Bounds)
	from := " FROM " + quote(e.view) + " WHERE " + where
	return snapshot.SQLQuery{
		Rows:  "SELECT " + key + ", total_spent_cents, doc" + from,
		Facts: "SELECT doc->>'city' AS city, doc->>'gender' AS gender, rfm_group, last_purchase_at" + from,
		Args:  args,
	}, true, nil
}

// sortKeySQL is the expression of a row's snapshot sort key in the order
// s: the bytes snapshot's sortKey makes of the same profile (flag, value
// complemented when descending, customer id), from the columns that hold
// each sort's value (last_purchase_at is stored cut to the millisecond;
// name_key is the folded name; a score's key is its IEEE 754 bits,
// segment.FloatKey). The snapshot tests compare its order with the
// engine's ordered scan for every sort.
func sortKeySQL(s segment.Sort) (string, error) {
	s = s.OrDefault()
	var value string
	switch s.Field {
	case segment.SortLastPurchaseAt:
		value = number("floor(extract(epoch FROM last_purchase_at) * 1000)::bigint", s.Desc)
	case segment.SortTotalSpent:
		value = number("total_spent_cents", s.Desc)
	case segment.SortTotalPurchases:
		value = number("total_purchases", s.Desc)
	case segment.SortAverageTicket:
		value = number("average_ticket_cents", s.Desc)
	case segment.SortName:
		value = "convert_to(name_key, 'UTF8') || '\\x00'::bytea"
		if s.Desc {
			// Every byte complemented: each hex digit d becomes f - d.
			value = "decode(translate(encode(" + value + ", 'hex'), '0123456789abcdef', 'fedcba9876543210'), 'hex')"
		}
	case segment.SortPAlive:
		value = number(floatKey("p_alive"), s.Desc)
	case segment.SortExpectedPurchases90d:
		value = number(floatKey("expected_purchases_90d"), s.Desc)
	default:
		return "", fmt.Errorf("snapshot sort %q: no column", s.Field)
	}
	// A NULL value (no purchase, no score) makes the flag and value NULL,
	// and COALESCE writes the flag 0x01 alone: last in either direction.
	return "COALESCE('\\x00'::bytea || " + value + ", '\\x01'::bytea) || convert_to(customer_id, 'UTF8')", nil
}

// number is snapshot's encoding of an integer expression: eight bytes
// big-endian with the sign bit flipped, so that byte order is numeric
// order; every bit flipped instead of the sign's alone when descending.
func number(expr string, desc bool) string {
	mask := "(-9223372036854775808)::bigint" // the sign bit
	if desc {
		mask = "9223372036854775807::bigint" // every other bit: ^(n ^ sign)
	}
	return "int8send((" + expr + ") # " + mask + ")"
}

// floatKey is segment.FloatKey of a double column: its IEEE 754 bits as a
// bigint (+ 0 turns -0 into 0, as FloatKey does).
func floatKey(column string) string {
	return bigintOf("float8send(" + column + " + 0)")
}

// bigintOf is the SQL of eight bytes (a bytea expression) read as a
// big-endian signed bigint, as binary.BigEndian.Uint64 then int64 read
// them in Go.
func bigintOf(bytes string) string {
	return "('x' || encode(" + bytes + ", 'hex'))::bit(64)::bigint"
}
