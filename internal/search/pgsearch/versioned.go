package pgsearch

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/reactivation/reactivation/internal/errs"
	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/search"
)

// Versioned writes to the serving generation: every row carries the
// source_version it was computed from, an upsert replaces a row only with
// an equal or newer version, and a delete leaves a tombstone (per view,
// so it outlives a generation swap) that refuses older writes for
// search.TombstoneRetention.

// tombstoneTable remembers deletes' versions, beside servingTable.
func (e *Engine) tombstoneTable() string {
	schema, _, ok := strings.Cut(e.view, ".")
	if ok {
		return schema + ".search_tombstones"
	}
	return "search_tombstones"
}

func (e *Engine) ensureTombstoneTable(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+quote(e.tombstoneTable())+
		` (view text NOT NULL, customer_id text COLLATE "C" NOT NULL, version bigint NOT NULL,
		deleted_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (view, customer_id))`)
	return err
}

// serving returns the serving generation's table, a Conflict when none.
func (e *Engine) serving(ctx context.Context) (string, error) {
	gen, err := e.Current(ctx)
	if err != nil {
		return "", err
	}
	if gen == "" {
		return "", errs.E(errs.Conflict, "no generation is serving")
	}
	return e.table(gen), nil
}

// Upsert writes docs into the serving generation; a row whose version is
// older than the one there, or than the customer's tombstone, is dropped.
func (e *Engine) Upsert(ctx context.Context, docs []profile.Profile) error {
	if len(docs) == 0 {
		return nil
	}
	table, err := e.serving(ctx)
	if err != nil {
		return err
	}
	rows := make([][]any, len(docs))
	for i, p := range docs {
		rows[i] = Row(p)
	}
	set := make([]string, 0, len(Columns))
	for _, c := range Columns {
		if c != "customer_id" {
			q := pgx.Identifier{c}.Sanitize()
			set = append(set, q+" = excluded."+q)
		}
	}
	t := quote(table)
	return pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error {
		if err := e.ensureTombstoneTable(ctx, tx); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "CREATE TEMP TABLE upsert_rows (LIKE "+t+" INCLUDING COMPRESSION) ON COMMIT DROP"); err != nil {
			return fmt.Errorf("upsert %s: %w", table, err)
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"upsert_rows"}, Columns, pgx.CopyFromRows(rows)); err != nil {
			return fmt.Errorf("upsert %s: %w", table, err)
		}
		// DISTINCT ON: a batch naming a customer twice keeps its newest row.
		_, err := tx.Exec(ctx, `INSERT INTO `+t+` (`+prefixed("", Columns)+`)
			SELECT DISTINCT ON (customer_id) `+prefixed("u", Columns)+` FROM upsert_rows u
			WHERE NOT EXISTS (SELECT 1 FROM `+quote(e.tombstoneTable())+` d
				WHERE d.view = $1 AND d.customer_id = u.customer_id AND d.version > u.source_version)
			ORDER BY customer_id, source_version DESC
			ON CONFLICT (customer_id) DO UPDATE SET `+strings.Join(set, ", ")+`
			WHERE excluded.source_version >= `+t+`.source_version`, e.view)
		if err != nil {
			return fmt.Errorf("upsert %s: %w", table, err)
		}
		return nil
	})
}

// Delete removes the customers' rows from the serving generation unless a
// row is newer than its delete, and records each delete's version.
func (e *Engine) Delete(ctx context.Context, tombs []search.Tombstone) error {
	if len(tombs) == 0 {
		return nil
	}
	table, err := e.serving(ctx)
	if err != nil {
		return err
	}
	ids := make([]string, len(tombs))
	versions := make([]int64, len(tombs))
	for i, t := range tombs {
		ids[i], versions[i] = t.CustomerID, t.Version
	}
	return pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error {
		if err := e.ensureTombstoneTable(ctx, tx); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO `+quote(e.tombstoneTable())+` AS d (view, customer_id, version)
			SELECT $1, id, max(v) FROM unnest($2::text[], $3::bigint[]) AS t(id, v) GROUP BY id
			ON CONFLICT (view, customer_id) DO UPDATE SET version = greatest(d.version, excluded.version), deleted_at = now()`,
			e.view, ids, versions)
		if err != nil {
			return fmt.Errorf("record deletes: %w", err)
		}
		_, err = tx.Exec(ctx, `DELETE FROM `+quote(table)+` p USING `+quote(e.tombstoneTable())+` d
			WHERE d.view = $1 AND d.customer_id = ANY($2) AND p.customer_id = d.customer_id AND p.source_version <= d.version`,
			e.view, ids)
		if err != nil {
			return fmt.Errorf("delete from %s: %w", table, err)
		}
		return nil
	})
}

// pruneTombstones forgets deletes older than search.TombstoneRetention.
func (e *Engine) pruneTombstones(ctx context.Context, tx pgx.Tx) error {
	if err := e.ensureTombstoneTable(ctx, tx); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, "DELETE FROM "+quote(e.tombstoneTable())+" WHERE view = $1 AND deleted_at < $2",
		e.view, time.Now().Add(-search.TombstoneRetention))
	return err
}

// prefixed renders cols as quoted identifiers, each prefixed "alias."
// unless alias is "".
func prefixed(alias string, cols []string) string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = pgx.Identifier{c}.Sanitize()
		if alias != "" {
			out[i] = alias + "." + out[i]
		}
	}
	return strings.Join(out, ", ")
}
