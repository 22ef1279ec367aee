package pgsearch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/reactivation/reactivation/internal/parallel"
	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/search"
	"github.com/reactivation/reactivation/internal/segment"
)

// DefaultScanSize is Scan's page size when the query gives none.
const DefaultScanSize = 1000

// sortColumn is how one sort field is ordered and written in a cursor.
type sortColumn struct {
	column string
	// cursor selects the sort value as the cursor carries it: epoch
	// milliseconds, cents, a count or the folded name.
	cursor string
	// param turns a cursor value back into an argument; ok is false for a
	// value of the wrong kind.
	param func(v any) (arg any, ok bool)
}

var sortColumns = map[string]sortColumn{
	segment.SortLastPurchaseAt: {"last_purchase_at", "(extract(epoch FROM last_purchase_at) * 1000)::bigint",
		intParam(func(n int64) any { return time.UnixMilli(n).UTC() })},
	segment.SortTotalSpent: {"total_spent_cents", "total_spent_cents",
		intParam(func(n int64) any { return n })},
	segment.SortAverageTicket: {"average_ticket_cents", "average_ticket_cents",
		intParam(func(n int64) any { return n })},
	segment.SortTotalPurchases: {"total_purchases", "total_purchases",
		intParam(func(n int64) any { return n })},
	segment.SortName: {"name_key", "name_key", func(v any) (any, bool) {
		s, ok := v.(string)
		return s, ok
	}},
	segment.SortPAlive:               {"p_alive", "p_alive", floatParam},
	segment.SortExpectedPurchases90d: {"expected_purchases_90d", "expected_purchases_90d", floatParam},
}

// floatParam reads a float cursor value (json.Number, exact: it was
// written with strconv's shortest round-tripping form).
func floatParam(v any) (any, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return nil, false
	}
	f, err := strconv.ParseFloat(n.String(), 64)
	return f, err == nil
}

func intParam(conv func(int64) any) func(any) (any, bool) {
	return func(v any) (any, bool) {
		n, ok := v.(json.Number)
		if !ok {
			return nil, false
		}
		i, err := strconv.ParseInt(n.String(), 10, 64)
		return conv(i), err == nil
	}
}

// Search returns one page with an exact total, counted in the same
// snapshot as the page. The cursor holds the last row's sort value and
// customer id, for a keyset condition; there is no OFFSET. A view that does
// not exist yet (nothing promoted) answers an empty page.
func (e *Engine) Search(ctx context.Context, q search.Query) (search.Page, error) {
	plan, err := segment.NewPlan(q.Filter, q.Sort, q.Size, segment.DefaultSize, q.Cursor, q.Now, q.Location)
	if err != nil {
		return search.Page{}, err
	}
	// The total, then one row more than asked: it tells whether there is
	// a next page.
	stmts, err := e.statements(plan)
	if err != nil {
		return search.Page{}, err
	}
	var page search.Page
	err = pgx.BeginTxFunc(ctx, e.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, stmts[0].SQL, stmts[0].Args...).Scan(&page.Total); err != nil {
			return err
		}
		hits, err := readPage(ctx, tx, stmts[1].SQL, stmts[1].Args)
		page.Customers, page.NextCursor = plan.Page(hits)
		return err
	})
	if missingView(err) {
		return search.Page{}, nil
	}
	if err != nil {
		return search.Page{}, fmt.Errorf("search %s: %w", e.view, err)
	}
	return page, nil
}

// Scan walks every match by keyset in pages of q.Size (DefaultScanSize
// when 0), holding one page at a time. Unordered, it reads every match in
// one statement instead (see scanAll): one consistent view of the index.
func (e *Engine) Scan(ctx context.Context, q search.Query, fn func([]profile.Profile) error) error {
	plan, err := segment.NewPlan(q.Filter, q.Sort, q.Size, DefaultScanSize, q.Cursor, q.Now, q.Location)
	if err != nil {
		return err
	}
	if q.Unordered {
		return e.scanAll(ctx, plan, q.Fields, fn)
	}
	return plan.Walk(func(p segment.Plan) (segment.Hits, error) {
		sql, args, err := e.pageSQL(p, p.Size)
		if err != nil {
			return segment.Hits{}, err
		}
		hits, err := readPage(ctx, e.pool, sql, args)
		if missingView(err) {
			return segment.Hits{}, nil
		}
		if err != nil {
			return segment.Hits{}, fmt.Errorf("scan %s: %w", e.view, err)
		}
		return hits, nil
	}, fn)
}

// scanAll streams every match of plan in the table's order from one
// SELECT, handing fn pages of plan.Size. One statement reads one snapshot
// of the database, so rows written, moved or removed while the scan runs
// (upserts, a promoted generation) neither appear twice nor go missing:
// the scan sees the serving generation as it was when it began, as an
// Elasticsearch scroll does. The read is a read-only transaction. With
// ids, it reads the id columns only, not the documents.
func (e *Engine) scanAll(ctx context.Context, plan segment.Plan, fields []string, fn func([]profile.Profile) error) error {
	where, args := Where(plan.Filter, plan.Bounds)
	ids := idsOnly(fields)
	columns := "doc, '', ''"
	if ids {
		columns = "NULL, customer_id, company_id"
	}
	err := pgx.BeginTxFunc(ctx, e.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		rs, err := tx.Query(ctx, "SELECT "+columns+" FROM "+quote(e.view)+" WHERE "+where, args...)
		if err != nil {
			return err
		}
		defer rs.Close()
		page := make([]profile.Profile, 0, plan.Size)
		docs := make([][]byte, 0, plan.Size)
		// flush decodes the page's documents, only the fields asked for
		// and on up to four goroutines (JSON is most of a scan's CPU),
		// and hands the page over.
		flush := func() error {
			if !ids {
				err := parallel.Ranges(len(page), func(lo, hi int) error {
					for i := lo; i < hi; i++ {
						p, err := profile.DecodeFields(docs[i], fields)
						if err != nil {
							return fmt.Errorf("decode customer: %w", err)
						}
						page[i] = p
					}
					return nil
				})
				if err != nil {
					return err
				}
			}
			err := fn(page)
			page, docs = make([]profile.Profile, 0, plan.Size), make([][]byte, 0, plan.Size)
			return err
		}
		for rs.Next() {
			var doc []byte
			var p profile.Profile
			if err := rs.Scan(&doc, &p.CustomerID, &p.CompanyID); err != nil {
				return err
			}
			if page, docs = append(page, p), append(docs, doc); len(page) == plan.Size {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		if err := rs.Err(); err != nil {
			return err
		}
		if len(page) > 0 {
			return flush()
		}
		return nil
	})
	if missingView(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("scan %s: %w", e.view, err)
	}
	return nil
}

// idsOnly reports whether fields name nothing but the profile's ids, which
// the view holds as columns.
func idsOnly(fields []string) bool {
	for _, f := range fields {
		if f != "customerId" && f != "companyId" {
			return false
		}
	}
	return len(fields) > 0
}

// querier is a pool or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// pageSQL selects up to limit rows after plan.After in plan's order: the
// sort column (no purchase last in both directions), then customer id. A
// cursor of the wrong shape is a *segment.ValidationError.
func (e *Engine) pageSQL(plan segment.Plan, limit int) (string, []any, error) {
	col := sortColumns[plan.Sort.Field]
	var q query
	q.filter(plan.Filter, plan.Bounds)
	if plan.After != nil {
		if err := q.after(col, plan.Sort.Desc, plan.After); err != nil {
			return "", nil, err
		}
	}
	dir := "ASC"
	if plan.Sort.Desc {
		dir = "DESC"
	}
	sql := fmt.Sprintf("SELECT doc, %s, customer_id FROM %s WHERE %s ORDER BY %s %s NULLS LAST, customer_id LIMIT %d",
		col.cursor, quote(e.view), q.where(), col.column, dir, limit)
	return sql, q.args, nil
}

// readPage runs a pageSQL statement. Sort values come back as a cursor
// carries them: numbers as json.Number, NULL as nil.
func readPage(ctx context.Context, db querier, sql string, args []any) (segment.Hits, error) {
	rs, err := db.Query(ctx, sql, args...)
	if err != nil {
		return segment.Hits{}, err
	}
	defer rs.Close()
	var out segment.Hits
	for rs.Next() {
		var doc []byte
		var value any
		var id string
		if err := rs.Scan(&doc, &value, &id); err != nil {
			return segment.Hits{}, err
		}
		var p profile.Profile
		if err := json.Unmarshal(doc, &p); err != nil {
			return segment.Hits{}, fmt.Errorf("decode customer: %w", err)
		}
		switch n := value.(type) {
		case int64:
			value = json.Number(strconv.FormatInt(n, 10))
		case float64:
			value = json.Number(strconv.FormatFloat(n, 'g', -1, 64))
		}
		out.Customers = append(out.Customers, p)
		out.SortValues = append(out.SortValues, []any{value, id})
	}
	return out, rs.Err()
}

// after adds the keyset condition "comes after the cursor's row" in the
// order col dir NULLS LAST, customer_id.
func (q *query) after(col sortColumn, desc bool, values []any) error {
	if len(values) != 2 {
		return segment.InvalidCursor()
	}
	id, ok := values[1].(string)
	if !ok {
		return segment.InvalidCursor()
	}
	if values[0] == nil {
		q.and(fmt.Sprintf("(%s IS NULL AND customer_id > %s)", col.column, q.arg(id)))
		return nil
	}
	v, ok := col.param(values[0])
	if !ok {
		return segment.InvalidCursor()
	}
	op := ">"
	if desc {
		op = "<"
	}
	q.and(fmt.Sprintf("(%[1]s %[2]s %[3]s OR (%[1]s = %[3]s AND customer_id > %[4]s) OR %[1]s IS NULL)",
		col.column, op, q.arg(v), q.arg(id)))
	return nil
}

// missingView reports the error of a view not created yet.
func missingView(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "42P01"
}
