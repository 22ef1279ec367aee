package pgsearch

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/segment"
)

// Columns are a generation table's columns in the order of Row, for COPY:
// doc (the profile, what every read returns) and what a filter, a sort, a
// cursor, a fingerprint read or a versioned write needs; no display copy
// of a field that only doc is read for (docs/postgres-engine.md).
var Columns = []string{
	"company_id", "company_key", "customer_id", "name_key",
	"gender", "city_key", "last_purchase_at",
	"total_purchases", "total_spent_cents", "average_ticket_cents",
	"products_key", "favorite_products_key", "ingredients_key", "favorite_ingredients_key",
	"search_tokens", "has_email", "has_phone", "doc",
	"source_version",
	"fingerprint",
	"recency_score", "frequency_score", "monetary_score", "rfm_group", "p_alive", "expected_purchases_90d",
}

// CreateTableSQL returns the DDL of one generation table, its primary
// key and its indexes. Every text key uses COLLATE "C": those sorted and
// paged by (customer_id, name_key) sort in byte order, as Elasticsearch
// keywords do; those only compared for equality (company, gender, city,
// group, the lists) are equal under any deterministic collation, and
// their indexes build faster comparing bytes (the GIN of 800k customers'
// ingredients: 5.0 s against 7.6 s under the database's C.UTF-8).
func CreateTableSQL(table string) string {
	return tableSQL(table) + strings.Join(IndexSQL(table), ";\n") + ";\n" + primaryKeySQL(table) + ";\n"
}

// tableSQL returns the CREATE TABLE of a generation table without its
// primary key or indexes. Most documents are long enough to be
// compressed, and doc is compressed with lz4 where the server has it:
// COPY of 200,000 rows took 2.8 s less than with pglz, the default, for
// the same size (docs/postgres-engine.md, "Cheaper keys and lz4").
func tableSQL(table string) string {
	return `CREATE TABLE ` + quote(table) + ` (
	company_id text COLLATE "C" NOT NULL,
	company_key bigint NOT NULL,
	customer_id text COLLATE "C" NOT NULL,
	name_key text COLLATE "C" NOT NULL,
	gender text COLLATE "C" NOT NULL,
	city_key text COLLATE "C" NOT NULL,
	last_purchase_at timestamptz,
	total_purchases bigint NOT NULL,
	total_spent_cents bigint NOT NULL,
	average_ticket_cents bigint NOT NULL,
	products_key text[] COLLATE "C" NOT NULL,
	favorite_products_key text[] COLLATE "C" NOT NULL,
	ingredients_key text[] COLLATE "C" NOT NULL,
	favorite_ingredients_key text[] COLLATE "C" NOT NULL,
	search_tokens text[] COLLATE "C" NOT NULL,
	has_email boolean NOT NULL,
	has_phone boolean NOT NULL,
	doc jsonb NOT NULL,
	source_version bigint NOT NULL DEFAULT 0,
	fingerprint text NOT NULL DEFAULT '',
	recency_score smallint,
	frequency_score smallint,
	monetary_score smallint,
	rfm_group text COLLATE "C" NOT NULL,
	p_alive double precision,
	expected_purchases_90d double precision
);
CREATE STATISTICS ` + statisticsName(table) + ` (dependencies) ON company_key, company_id FROM ` + quote(table) + `;
DO $$ BEGIN
	IF EXISTS (SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)) THEN
		ALTER TABLE ` + quote(table) + ` ALTER COLUMN doc SET COMPRESSION lz4;
	END IF;
END $$;
`
}

// indexes are a generation table's secondary indexes, each named by a
// suffix (docs/postgres-engine.md says which filter or sort each serves).
// They lead with company_key, not company_id: every build sorts 800k
// rows of one of a few companies, and a text that ties on every
// comparison made each btree build take 1.4-2x as long as the same index
// on a bigint (docs/postgres-engine.md, "Cheaper keys and lz4"). Each
// btree carries company_id (INCLUDE: stored, never compared), so a
// filter's exact company check (Where) reads it from the index and the
// totals stay index-only scans.
var indexes = []struct{ suffix, def string }{
	{"products_key", "USING gin (products_key)"},
	{"favorite_products_key", "USING gin (favorite_products_key)"},
	{"ingredients_key", "USING gin (ingredients_key)"},
	{"favorite_ingredients_key", "USING gin (favorite_ingredients_key)"},
	// Sorts, each in the direction a bare field sorts (descending, no
	// value last, ties by customer id ascending); a backward scan cannot
	// serve it, so lastPurchaseAt, sorted both ways, has both.
	{"last_purchase_at", "(company_key, last_purchase_at DESC NULLS LAST, customer_id) INCLUDE (company_id)"},
	{"last_purchase_at_asc", "(company_key, last_purchase_at ASC NULLS LAST, customer_id) INCLUDE (company_id)"},
	{"total_spent", "(company_key, total_spent_cents DESC NULLS LAST, customer_id) INCLUDE (company_id)"},
	{"total_purchases", "(company_key, total_purchases DESC NULLS LAST, customer_id) INCLUDE (company_id)"},
	{"average_ticket", "(company_key, average_ticket_cents DESC NULLS LAST, customer_id) INCLUDE (company_id)"},
	{"name_key", "(company_key, name_key, customer_id) INCLUDE (company_id)"},
	{"p_alive", "(company_key, p_alive DESC NULLS LAST, customer_id) INCLUDE (company_id)"},
	{"expected_purchases_90d", "(company_key, expected_purchases_90d DESC NULLS LAST, customer_id) INCLUDE (company_id)"},
	// Equality filters, counted by index-only scans.
	{"city_key", "(company_key, city_key) INCLUDE (company_id)"},
	{"rfm_group", "(company_key, rfm_group) INCLUDE (company_id)"},
	// The narrowest company index: it counts the company, and the boolean
	// and score filters, by an index-only scan.
	{"gender", "(company_key, gender) INCLUDE (company_id, has_email, has_phone, recency_score, frequency_score, monetary_score)"},
}

// CompanyKey is the company_key column of companyID: the first eight
// bytes of its SHA-256, as a signed integer. Filters compare it and
// company_id both (see Where), so two companies whose keys collide still
// never read each other's rows.
func CompanyKey(companyID string) int64 {
	sum := sha256.Sum256([]byte(companyID))
	return int64(binary.BigEndian.Uint64(sum[:8]))
}

// IndexSQL returns the statements that build a generation table's
// indexes, each independent of the others and a no-op when its index
// exists: first the unique index on customer_id that becomes the primary
// key (primaryKeySQL), then the secondary indexes.
func IndexSQL(table string) []string {
	t := quote(table)
	out := []string{"CREATE UNIQUE INDEX IF NOT EXISTS " + indexName(table, "pkey") + " ON " + t + " (customer_id)"}
	for _, ix := range indexes {
		out = append(out, "CREATE INDEX IF NOT EXISTS "+indexName(table, ix.suffix)+" ON "+t+" "+ix.def)
	}
	return out
}

// primaryKeySQL makes the unique index IndexSQL builds first the table's
// primary key.
func primaryKeySQL(table string) string {
	return "ALTER TABLE " + quote(table) + " ADD PRIMARY KEY USING INDEX " + indexName(table, "pkey")
}

// indexName is the quoted name of table's index with suffix (objectName).
func indexName(table, suffix string) string {
	return pgx.Identifier{objectName(table, suffix)}.Sanitize()
}

// statisticsName is the quoted, schema-qualified name of table's extended
// statistics: they tell the planner company_key determines company_id, so
// a filter on both is estimated as one condition, not two independent ones.
func statisticsName(table string) string {
	name := objectName(table, "company")
	if schema, _, ok := strings.Cut(table, "."); ok {
		return pgx.Identifier{schema, name}.Sanitize()
	}
	return pgx.Identifier{name}.Sanitize()
}

// objectName names table's object with suffix: the table's name and the
// suffix, or, when that is longer than PostgreSQL's 63-byte identifiers, a
// hash of the table's name and the suffix.
func objectName(table, suffix string) string {
	_, base, ok := strings.Cut(table, ".")
	if !ok {
		base = table
	}
	name := base + "_" + suffix
	if len(name) > 63 {
		sum := sha256.Sum256([]byte(base))
		name = "g" + hex.EncodeToString(sum[:8]) + "_" + suffix
	}
	return name
}

// ServeSQL returns the statement that points view at table; run in a
// transaction with the drop of the old table, it swaps generations
// atomically. All generation tables have the same columns.
func ServeSQL(view, table string) string {
	return "CREATE OR REPLACE VIEW " + quote(view) + " AS SELECT * FROM " + quote(table)
}

// Row returns p's values in the order of Columns, doc as its JSON (a
// jsonb column: docs/postgres-engine.md says why not json). Text keys are
// folded with profile.Fold (catalogue values with FoldTerm); instants are
// cut to the millisecond, the precision Elasticsearch sorts and filters
// with (doc keeps them whole).
func Row(p profile.Profile) []any {
	return []any{
		p.CompanyID, CompanyKey(p.CompanyID), p.CustomerID, profile.Fold(p.Name),
		profile.FoldTerm(p.Gender), profile.FoldTerm(p.City), millis(p.LastPurchaseAt),
		p.TotalPurchases, int64(p.TotalSpent), int64(p.AverageTicket),
		profile.FoldTerms(p.Products), profile.FoldTerms(p.FavoriteProducts), profile.FoldTerms(p.Ingredients), profile.FoldTerms(p.FavoriteIngredients),
		list(segment.SearchTokens(p)), p.HasEmail, p.HasPhone, p.AppendJSON(nil),
		p.SourceVersion,
		profile.Fingerprint(p),
		p.RecencyScore, p.FrequencyScore, p.MonetaryScore, p.RFMGroup, p.PAlive, p.ExpectedPurchases90d,
	}
}

func millis(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := t.Truncate(time.Millisecond)
	return &v
}

// list is s, empty rather than NULL.
func list(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
