package demo

import (
	"math/big"

	"github.com/jackc/pgx/v5/pgtype"
)

// level is how deep a rows walk goes: each table is a walk over the same
// customers, in order, stopping at its own grain.
type level int

const (
	levelCustomers level = iota
	levelInvoices
	levelLines
)

// columns of each generated table, in Values order.
var (
	customerColumns = []string{"customer_id", "company_id", "phone", "name", "email", "gender", "city", "created_at", "updated_at"}
	invoiceColumns  = []string{"invoice_id", "customer_id", "invoice_date", "total_amount", "created_at", "updated_at"}
	lineColumns     = []string{"invoice_id", "product_id", "quantity"}
)

// progressEvery is how many customers a walk makes between progress reports.
const progressEvery = 1024

// rows is a pgx.CopyFromSource making one table's rows on the fly, in
// customer order, so memory stays constant whatever the number of
// customers. Invoices are numbered in the order walked, which is the same
// for the invoices and invoice_products tables.
type rows struct {
	g        *generator
	level    level
	progress func(customers int)

	s          randomness
	c          customer
	num        int // current customer, 1-based; 0 before the first
	inv        int // index of the current invoice in c.invoices
	line       int // index of the current line within the invoice
	invoiceSeq int
	invoiceID  any
	values     []any
}

func newRows(g *generator, lvl level, progress func(customers int)) *rows {
	return &rows{g: g, level: lvl, progress: progress, s: newRandomness(), inv: -1}
}

// Next makes the next row and reports whether there is one.
func (w *rows) Next() bool {
	switch w.level {
	case levelCustomers:
		return w.nextCustomer()
	case levelInvoices:
		return w.nextInvoice()
	default:
		return w.nextLine()
	}
}

func (w *rows) nextCustomer() bool {
	if w.num >= w.g.customers {
		return false
	}
	w.num++
	if w.num%progressEvery == 0 || w.num == w.g.customers {
		w.progress(w.num)
	}
	sch := w.g.profile(w.s, &w.c, w.num)
	if w.level > levelCustomers {
		w.g.invoices(w.s, &w.c, sch)
	}
	w.inv = -1
	return true
}

func (w *rows) nextInvoice() bool {
	for w.inv+1 >= len(w.c.invoices) {
		if !w.nextCustomer() {
			return false
		}
	}
	w.inv++
	w.invoiceSeq++
	w.invoiceID = "F" + pad(w.invoiceSeq, 8)
	w.line = -1
	return true
}

func (w *rows) nextLine() bool {
	for w.inv < 0 || w.line+1 >= w.c.invoices[w.inv].count {
		if !w.nextInvoice() {
			return false
		}
	}
	w.line++
	return true
}

// Values returns the current row; the slice is reused.
func (w *rows) Values() ([]any, error) {
	c := &w.c
	switch w.level {
	case levelCustomers:
		w.values = append(w.values[:0], c.id, c.companyID, nullable(c.phone), c.name,
			nullable(c.email), gender(c.gender), nullable(c.city), c.createdAt, c.createdAt)
	case levelInvoices:
		inv := &c.invoices[w.inv]
		w.values = append(w.values[:0], w.invoiceID, c.id, inv.date, colones(inv.totalCents), inv.date, inv.date)
	default:
		l := c.lines[c.invoices[w.inv].first+w.line]
		w.values = append(w.values[:0], w.invoiceID, productIDs[l.dish], int32(l.quantity))
	}
	return w.values, nil
}

// Err is always nil: making rows cannot fail.
func (w *rows) Err() error { return nil }

// productIDs are the menu's ids, boxed once.
var productIDs = func() []any {
	out := make([]any, len(menu))
	for i := range menu {
		out[i] = productID(i)
	}
	return out
}()

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func gender(s string) any {
	if s == nullGender {
		return nil
	}
	return s
}

// colones is an amount in cents as a numeric(12,2).
func colones(cents int64) pgtype.Numeric {
	return pgtype.Numeric{Int: big.NewInt(cents), Exp: -2, Valid: true}
}
