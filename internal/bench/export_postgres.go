package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/reactivation/reactivation/internal/app"
	"github.com/reactivation/reactivation/internal/search/pgsearch"
)

// copyRows is the export scenario's baseline on the PostgreSQL engine: a
// COPY ... TO STDOUT of the same rows the exports of companies read (each
// company's documents from the serving view, one COPY a company, one
// after the other as the exports ran), the bytes thrown away. It returns
// the rows copied and the time the COPYs took.
func copyRows(ctx context.Context, d *app.App, companies []string) (int64, time.Duration, error) {
	pg, ok := d.Engine.(*pgsearch.Engine)
	if !ok {
		return 0, 0, errors.New("the COPY baseline needs the PostgreSQL engine")
	}
	conn, err := d.DB.Acquire(ctx)
	if err != nil {
		return 0, 0, err
	}
	defer conn.Release()
	var rows int64
	start := time.Now()
	for _, c := range companies {
		// COPY takes no parameters: the company id is a quoted literal.
		sql := fmt.Sprintf("COPY (SELECT doc FROM %s WHERE company_id = '%s') TO STDOUT", pg.QuotedView(), strings.ReplaceAll(c, "'", "''"))
		tag, err := conn.Conn().PgConn().CopyTo(ctx, io.Discard, sql)
		if err != nil {
			return 0, 0, fmt.Errorf("copy baseline: %w", err)
		}
		rows += tag.RowsAffected()
	}
	return rows, time.Since(start), nil
}
