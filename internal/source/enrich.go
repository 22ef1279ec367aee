package source

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"

	"github.com/reactivation/reactivation/internal/profile"
)

// Enricher computes customer profiles from the source tables. It streams:
// one query for the customers and one for their invoice lines, both in
// customer order, merged in Go, so memory holds one customer at a time.
// Each read sees one snapshot of the source: the catalog, the customers
// and their lines are read in REPEATABLE READ READ ONLY transactions
// sharing an exported snapshot, so a concurrent insert or delete cannot
// shift the merge; every profile carries that snapshot's version.
// Safe for concurrent use.
type Enricher struct {
	pool *pgxpool.Pool
}

// Catalog is the menu: product names and each product's ingredient names.
// It is small (tens of products) and read with every enrichment, in its
// snapshot.
type Catalog struct {
	products map[string]product
}

type product struct {
	name        string
	ingredients []string
}

// LoadCatalog reads products and their ingredients.
func LoadCatalog(ctx context.Context, q Querier) (*Catalog, error) {
	rows, err := q.Query(ctx, `
		SELECT p.product_id, p.name, coalesce(array_agg(DISTINCT g.name) FILTER (WHERE g.name IS NOT NULL), '{}')
		FROM products p
		LEFT JOIN product_ingredients pi ON pi.product_id = p.product_id
		LEFT JOIN ingredients g ON g.ingredient_id = pi.ingredient_id
		GROUP BY p.product_id, p.name`)
	if err != nil {
		return nil, fmt.Errorf("load catalog: %w", err)
	}
	c := &Catalog{products: map[string]product{}}
	var id, name string
	var ingredients []string
	_, err = pgx.ForEachRow(rows, []any{&id, &name, &ingredients}, func() error {
		c.products[id] = product{name: name, ingredients: append([]string(nil), ingredients...)}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load catalog: %w", err)
	}
	return c, nil
}

// Querier is a pool, a connection or a transaction.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// NewEnricher returns an enricher over the source pool.
func NewEnricher(pool *pgxpool.Pool) *Enricher {
	return &Enricher{pool: pool}
}

// selection is the customers a read computes: where over customers c,
// and, for the lines query, the same over invoices i, which the planner
// does not derive itself (it carries no range across a join's equality).
// Every condition can bound an index scan, whatever the parameters: a
// plan made generic after a connection's fifth run of the query (pgx
// prepares it) reads only the range. An upper bound ORed with "no bound"
// (the last shard's empty hi) bounded nothing in such a plan, and the
// invoices' scan began at the first customer, not the range's: every
// shard read the index from the start (800k customers: 0.96 s a
// 20,000-customer shard's lines for 0.35 s; docs/capacity.md).
type selection struct {
	customers, invoices string
	args                []any
}

// rangeOf selects the customers with lo < customer_id <= hi (lo "" from
// the first, hi "" to the last).
func rangeOf(lo, hi string) selection {
	if hi == "" {
		return selection{"c.customer_id > $1", "i.customer_id > $1", []any{lo}}
	}
	return selection{"c.customer_id > $1 AND c.customer_id <= $2", "i.customer_id > $1 AND i.customer_id <= $2", []any{lo, hi}}
}

// Range computes the profile of every customer with lo < customer_id <= hi
// (lo "" from the first, hi "" to the last), in customer_id order.
func (e *Enricher) Range(ctx context.Context, lo, hi string, fn func(profile.Profile) error) error {
	_, err := e.enrich(ctx, rangeOf(lo, hi), fn)
	return err
}

// IDs computes the profiles of the listed customers; ids absent from the
// source are skipped. companyID, when not empty, limits them to a company.
func (e *Enricher) IDs(ctx context.Context, ids []string, companyID string, fn func(profile.Profile) error) error {
	_, err := e.Lookup(ctx, ids, companyID, fn)
	return err
}

// Lookup is IDs that also returns the version of the snapshot it read:
// every listed id it did not call fn for was absent from the source (or
// of another company) as of that version.
func (e *Enricher) Lookup(ctx context.Context, ids []string, companyID string, fn func(profile.Profile) error) (int64, error) {
	sel := selection{"c.customer_id = ANY($1)", "i.customer_id = ANY($1)", []any{ids}}
	if companyID != "" {
		sel.customers += " AND c.company_id = $2"
		sel.args = append(sel.args, companyID)
	}
	return e.enrich(ctx, sel, fn)
}

// Buyers computes the profiles of the customers with lo < customer_id <=
// hi who bought any of products, in customer_id order.
func (e *Enricher) Buyers(ctx context.Context, lo, hi string, products []string, fn func(profile.Profile) error) error {
	key, err := linesKey(ctx, e.pool)
	if err != nil {
		return err
	}
	sel := rangeOf(lo, hi)
	sel.args = append(sel.args, products)
	sel.customers += ` AND EXISTS (
		SELECT 1 FROM invoices bi JOIN invoice_products bp ON bp.invoice_id = bi.invoice_id` + key + `
		WHERE bi.customer_id = c.customer_id AND bp.product_id = ANY($` + strconv.Itoa(len(sel.args)) + `))`
	_, err = e.enrich(ctx, sel, fn)
	return err
}

type line struct {
	customerID string
	invoice    uint64 // the invoice's ordinal in its stream: lines of one invoice share it
	date       time.Time
	cents      int64
	product    int32 // in menu.items, or noLine, or unknownProduct
}

// enrich reads the catalog, the customers sel selects and their lines in
// one snapshot, and returns its version.
func (e *Enricher) enrich(ctx context.Context, sel selection, fn func(profile.Profile) error) (int64, error) {
	readOnly := pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
	customers, err := e.pool.BeginTx(ctx, readOnly)
	if err != nil {
		return 0, fmt.Errorf("enrich: begin: %w", err)
	}
	defer customers.Rollback(context.WithoutCancel(ctx))
	var snapshot string
	var version int64
	if err := customers.QueryRow(ctx, "SELECT pg_export_snapshot(), "+versionSQL).Scan(&snapshot, &version); err != nil {
		return 0, fmt.Errorf("enrich: export snapshot: %w", err)
	}
	if _, err := customers.Exec(ctx, serialReads); err != nil {
		return 0, fmt.Errorf("enrich: %w", err)
	}
	catalog, err := LoadCatalog(ctx, customers)
	if err != nil {
		return 0, err
	}
	key, err := linesKey(ctx, customers)
	if err != nil {
		return 0, err
	}
	m := newMenu(catalog)
	g, gctx := errgroup.WithContext(ctx)
	lines := make(chan []line, 4)
	g.Go(func() error {
		defer close(lines)
		tx, err := BeginInSnapshot(gctx, e.pool, snapshot, serialReads)
		if err != nil {
			return fmt.Errorf("enrich: %w", err)
		}
		defer tx.Rollback(context.WithoutCancel(gctx))
		return streamLines(gctx, tx, m, key, sel, lines)
	})
	g.Go(func() error {
		err := mergeCustomers(gctx, customers, m, version, sel, lines, fn)
		// Drain so the producer never blocks on a consumer that stopped.
		go func() {
			for range lines {
			}
		}()
		return err
	})
	return version, g.Wait()
}

// serialReads plans an enrichment's queries for one process each, without
// JIT: a sync runs many enrichments at once (shards on every worker), so
// parallel workers only add their startup and a gather merge to CPU that
// is already busy, and compiling each shard's query costs more than it
// saves (800k customers, a 20,000-customer shard's lines: 1.2 s of one
// process serially against 1.5 s of three in parallel, plus 60 ms of
// JIT; docs/capacity.md).
const serialReads = "SET LOCAL jit = off; SET LOCAL max_parallel_workers_per_gather = 0"

// BeginInSnapshot begins, on db (a pool or a connection), a REPEATABLE
// READ READ ONLY transaction that sees the snapshot another transaction
// exported with pg_export_snapshot, then runs also in it (SET LOCAL
// statements; "" for none). SET TRANSACTION SNAPSHOT takes a literal,
// not a parameter, so the id is checked against its form ("00000003-
// 0000001B-1") before it is written into one. The caller rolls back.
func BeginInSnapshot(ctx context.Context, db interface {
	BeginTx(context.Context, pgx.TxOptions) (pgx.Tx, error)
}, snapshot, also string) (pgx.Tx, error) {
	if !exportedSnapshot.MatchString(snapshot) {
		return nil, fmt.Errorf("unexpected snapshot id %q", snapshot)
	}
	tx, err := db.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, err
	}
	if also != "" {
		also = "; " + also
	}
	if _, err := tx.Exec(ctx, "SET TRANSACTION SNAPSHOT '"+snapshot+"'"+also); err != nil {
		_ = tx.Rollback(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("import snapshot: %w", err)
	}
	return tx, nil
}

var exportedSnapshot = regexp.MustCompile(`^[0-9A-Fa-f-]+$`)

// versionSQL is the version of the current snapshot: its xmax, the first
// 64-bit transaction id it does not see, which only grows on one server.
const versionSQL = "pg_snapshot_xmax(pg_current_snapshot())::text::bigint"

// streamLines sends invoice lines in customer_id order, in batches, the
// lines of an invoice together. The source sends one row per invoice with
// its lines' product ids as an array (a fifth fewer backend seconds than a
// row per line ordered by invoice, and two fifths of the rows to decode;
// an ARRAY subquery rather than a lateral array_agg, a tenth fewer again;
// docs/capacity.md); an invoice without lines arrives once with product
// noLine. key is linesKey's collation clause for the lookup of an
// invoice's lines. The customer id is read as bytes and made a string
// only when it changes; each product is looked up in m by its bytes.
func streamLines(ctx context.Context, q Querier, m *menu, key string, sel selection, out chan<- []line) error {
	rows, err := q.Query(ctx, linesSQL(key, sel), sel.args...)
	if err != nil {
		return fmt.Errorf("read invoice lines: %w", err)
	}
	defer rows.Close()
	send := func(batch []line) error {
		select {
		case out <- batch:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	scan := newLineScanner(rows)
	batch := make([]line, 0, 1024)
	for rows.Next() {
		var err error
		if batch, err = scan.next(m, batch); err != nil {
			return fmt.Errorf("read invoice lines: %w", err)
		}
		if len(batch) >= cap(batch)-64 { // before an invoice's lines could outgrow it
			if err := send(batch); err != nil {
				return err
			}
			batch = make([]line, 0, 1024)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read invoice lines: %w", err)
	}
	if len(batch) > 0 {
		return send(batch)
	}
	return nil
}

// linesSQL is streamLines' query.
func linesSQL(key string, sel selection) string {
	return `
		SELECT i.customer_id, i.invoice_date, i.total_amount::numeric,
			ARRAY(SELECT ip.product_id FROM invoice_products ip WHERE ip.invoice_id = i.invoice_id` + key + `)
		FROM customers c
		JOIN invoices i ON i.customer_id = c.customer_id
		WHERE ` + sel.customers + ` AND ` + sel.invoices + `
		ORDER BY i.customer_id`
}

// customersSQL is mergeCustomers' query.
func customersSQL(sel selection) string {
	return `
		SELECT c.customer_id, c.company_id, coalesce(c.name, ''), coalesce(c.email, ''), coalesce(c.phone, ''),
		       coalesce(c.gender, ''), coalesce(c.city, ''), c.created_at, c.updated_at
		FROM customers c WHERE ` + sel.customers + `
		ORDER BY c.customer_id`
}

// linesKey returns the collation clause under which a query looks up an
// invoice's lines by its id: ` COLLATE "C"` when the source has a valid
// btree index on invoice_products (invoice_id COLLATE "C"), else "" (the
// column's own collation). Both find the same lines (text equality is
// byte equality under any deterministic collation); the index's descent
// compares bytes instead of the database collation's rules (a probe per
// invoice, 800k customers: a seventh of the lines query's backend time
// under C.UTF-8; docs/capacity.md). A query compared under "C" can use
// no other index, hence the check.
func linesKey(ctx context.Context, q Querier) (string, error) {
	rows, err := q.Query(ctx, `
		SELECT EXISTS (
			SELECT 1 FROM pg_index x
			JOIN pg_class r ON r.oid = x.indexrelid
			JOIN pg_am a ON a.oid = r.relam
			JOIN pg_attribute c ON c.attrelid = x.indrelid AND c.attnum = x.indkey[0]
			WHERE x.indrelid = 'invoice_products'::regclass AND c.attname = 'invoice_id'
				AND a.amname = 'btree' AND x.indisvalid AND x.indpred IS NULL
				AND x.indcollation[0] = (SELECT oid FROM pg_collation
					WHERE collname = 'C' AND collnamespace = 'pg_catalog'::regnamespace))`)
	if err != nil {
		return "", fmt.Errorf("invoice lines index: %w", err)
	}
	found, err := pgx.CollectExactlyOneRow(rows, pgx.RowTo[bool])
	if err != nil {
		return "", fmt.Errorf("invoice lines index: %w", err)
	}
	if found {
		return ` COLLATE "C"`, nil
	}
	return "", nil
}

// lineScanner decodes streamLines' rows from their raw values: the date
// with the connection's own decoder, planned once; the amount's numeric
// into cents by hand (cents.go); the product ids' array in PostgreSQL's
// binary form by hand (no slice of strings per invoice), or through pgx
// when the rows come as text.
type lineScanner struct {
	rows       pgx.Rows
	date       pgtype.ScanPlan
	cents      func([]byte) (int64, error) // the amount's numeric to cents
	ids        pgtype.ScanPlan             // nil when the array comes in binary
	d          time.Time
	texts      []pgtype.Text
	elems      [][]byte
	customerID string
	invoice    uint64
}

func newLineScanner(rows pgx.Rows) *lineScanner {
	s := &lineScanner{rows: rows}
	m, fields := rows.Conn().TypeMap(), rows.FieldDescriptions()
	s.date = m.PlanScan(fields[1].DataTypeOID, fields[1].Format, &s.d)
	s.cents = centsText
	if fields[2].Format == pgx.BinaryFormatCode {
		s.cents = centsBinary
	}
	if fields[3].Format != pgx.BinaryFormatCode {
		s.ids = m.PlanScan(fields[3].DataTypeOID, fields[3].Format, &s.texts)
	}
	return s
}

// next appends the current row's lines to batch: one per product id, or
// one with noLine for an invoice without lines.
func (s *lineScanner) next(m *menu, batch []line) ([]line, error) {
	raw := s.rows.RawValues()
	if string(raw[0]) != s.customerID {
		s.customerID = string(raw[0])
	}
	if err := s.date.Scan(raw[1], &s.d); err != nil {
		return batch, err
	}
	c, err := s.cents(raw[2])
	if err != nil {
		return batch, err
	}
	s.invoice++
	l := line{customerID: s.customerID, invoice: s.invoice, date: s.d, cents: c, product: noLine}
	s.elems = s.elems[:0]
	if s.ids == nil {
		s.elems, err = appendBinaryArray(s.elems, raw[3])
	} else if err = s.ids.Scan(raw[3], &s.texts); err == nil {
		for _, t := range s.texts {
			if t.Valid {
				s.elems = append(s.elems, []byte(t.String))
			}
		}
	}
	n := len(batch)
	for _, id := range s.elems {
		if id != nil {
			l.product = m.product(id)
			batch = append(batch, l)
		}
	}
	if len(batch) == n { // no lines (or only null product ids)
		l.product = noLine
		batch = append(batch, l)
	}
	return batch, err
}

var errMalformedArray = errors.New("product ids: malformed binary array")

// appendBinaryArray appends to elems each element of a one-dimensional
// array in PostgreSQL's binary form (nil for a NULL element; the bytes
// alias raw); a NULL or empty array has none.
func appendBinaryArray(elems [][]byte, raw []byte) ([][]byte, error) {
	if raw == nil {
		return elems, nil
	}
	bad := errMalformedArray
	u32 := func(b []byte) int { return int(int32(binary.BigEndian.Uint32(b))) }
	if len(raw) < 12 {
		return elems, bad
	}
	if dims := u32(raw); dims == 0 {
		return elems, nil
	} else if dims != 1 || len(raw) < 20 {
		return elems, bad
	}
	n, rest := u32(raw[12:]), raw[20:]
	for range n {
		if len(rest) < 4 {
			return elems, bad
		}
		size := u32(rest)
		rest = rest[4:]
		if size < 0 {
			elems = append(elems, nil)
			continue
		}
		if len(rest) < size {
			return elems, bad
		}
		elems = append(elems, rest[:size:size])
		rest = rest[size:]
	}
	return elems, nil
}

// mergeCustomers reads customers in the same order as the lines and hands
// each one, with its lines, to the aggregation.
func mergeCustomers(ctx context.Context, q Querier, m *menu, version int64, sel selection, lines <-chan []line, fn func(profile.Profile) error) error {
	rows, err := q.Query(ctx, customersSQL(sel), sel.args...)
	if err != nil {
		return fmt.Errorf("read customers: %w", err)
	}
	defer rows.Close()
	var pending []line
	next := func() (line, bool) {
		for len(pending) == 0 {
			b, ok := <-lines
			if !ok {
				return line{}, false
			}
			pending = b
		}
		return pending[0], true
	}
	agg := newAggregate(m)
	for rows.Next() {
		var p profile.Profile
		var created, updated time.Time
		if err := rows.Scan(&p.CustomerID, &p.CompanyID, &p.Name, &p.Email, &p.Phone, &p.GenderRaw, &p.City, &created, &updated); err != nil {
			return fmt.Errorf("read customers: %w", err)
		}
		p.CreatedAt, p.UpdatedAt = &created, &updated
		agg.reset()
		for {
			l, ok := next()
			if !ok || l.customerID != p.CustomerID {
				break
			}
			agg.add(l)
			pending = pending[1:]
		}
		agg.fill(&p)
		p.SourceVersion = version
		if err := fn(p); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read customers: %w", err)
	}
	return ctx.Err()
}

// Now is the source database's clock, the reference for watermarks.
func Now(ctx context.Context, pool *pgxpool.Pool) (time.Time, error) {
	var t time.Time
	err := pool.QueryRow(ctx, "SELECT now()").Scan(&t)
	return t, err
}

// CountCustomers counts the source's customers.
func CountCustomers(ctx context.Context, pool *pgxpool.Pool) (int64, error) {
	var n int64
	err := pool.QueryRow(ctx, "SELECT count(*) FROM customers").Scan(&n)
	return n, err
}

// ShardBounds splits customers into key ranges of about size customers and
// returns the upper bounds of all but the last range, in order.
func ShardBounds(ctx context.Context, pool *pgxpool.Pool, size int) ([]string, error) {
	rows, err := pool.Query(ctx, `
		SELECT customer_id FROM (
			SELECT customer_id, row_number() OVER (ORDER BY customer_id) AS rn FROM customers
		) t WHERE rn % $1 = 0 ORDER BY customer_id`, size)
	if err != nil {
		return nil, fmt.Errorf("shard bounds: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// Existing reports which of ids are customers of the source.
func Existing(ctx context.Context, pool *pgxpool.Pool, ids []string) (map[string]bool, error) {
	return customerSet(ctx, pool, "existing customers", "SELECT customer_id FROM customers WHERE customer_id = ANY($1)", ids)
}

// OfOtherCompanies reports which of ids the source knows as customers of
// a company other than companyID.
func OfOtherCompanies(ctx context.Context, pool *pgxpool.Pool, ids []string, companyID string) (map[string]bool, error) {
	return customerSet(ctx, pool, "customers of other companies",
		"SELECT customer_id FROM customers WHERE customer_id = ANY($1) AND company_id IS DISTINCT FROM $2", ids, companyID)
}

// customerSet runs query, which selects customer ids, and returns them as
// a set; what names it in errors.
func customerSet(ctx context.Context, pool *pgxpool.Pool, what, query string, args ...any) (map[string]bool, error) {
	rows, err := pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	found, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	out := make(map[string]bool, len(found))
	for _, id := range found {
		out[id] = true
	}
	return out, nil
}
