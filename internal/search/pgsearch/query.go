package pgsearch

import (
	"strconv"
	"strings"

	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/segment"
)

// Where compiles a normalised filter to a SQL condition over a generation
// table's columns, with the lastPurchaseAt bounds computed by f.Bounds, and
// its arguments ($1, $2...). It is the only place filter SQL is built.
func Where(f segment.Filter, b segment.Bounds) (string, []any) {
	var q query
	q.filter(f, b)
	return q.where(), q.args
}

// query accumulates the conditions and arguments of one statement.
type query struct {
	conds []string
	args  []any
}

// arg adds an argument and returns its placeholder.
func (q *query) arg(v any) string {
	q.args = append(q.args, v)
	return "$" + strconv.Itoa(len(q.args))
}

// and adds a condition; the conditions are joined with AND.
func (q *query) and(cond string) { q.conds = append(q.conds, cond) }

// where returns the conditions, or TRUE when there are none.
func (q *query) where() string {
	if len(q.conds) == 0 {
		return "TRUE"
	}
	return strings.Join(q.conds, " AND ")
}

func (q *query) filter(f segment.Filter, b segment.Bounds) {
	if f.CompanyID != nil {
		// The key finds the company in every index; the id makes the
		// match exact whatever the key (CompanyKey).
		q.and("company_key = " + q.arg(CompanyKey(*f.CompanyID)) + " AND company_id = " + q.arg(*f.CompanyID))
	}
	q.anyOf("gender = ANY(%s)", f.Gender)
	q.anyOf("city_key = ANY(%s)", f.City)
	q.anyOf("products_key && %s", f.Products)
	q.anyOf("ingredients_key && %s", f.Ingredients)
	q.anyOf("favorite_products_key && %s", f.FavoriteProducts)
	q.anyOf("favorite_ingredients_key && %s", f.FavoriteIngredients)
	if b.From != nil {
		q.and("last_purchase_at >= " + q.arg(*b.From))
	}
	if b.Before != nil {
		q.and("last_purchase_at < " + q.arg(*b.Before))
	}
	if f.MinTotalPurchases != nil {
		q.and("total_purchases >= " + q.arg(*f.MinTotalPurchases))
	}
	if f.MaxTotalPurchases != nil {
		q.and("total_purchases <= " + q.arg(*f.MaxTotalPurchases))
	}
	q.money("total_spent_cents", f.MinTotalSpent, f.MaxTotalSpent)
	q.money("average_ticket_cents", f.MinAverageTicket, f.MaxAverageTicket)
	if f.HasEmail != nil {
		q.and("has_email = " + q.arg(*f.HasEmail))
	}
	if f.HasPhone != nil {
		q.and("has_phone = " + q.arg(*f.HasPhone))
	}
	switch {
	case f.NeverPurchased == nil:
	case *f.NeverPurchased:
		q.and("total_purchases = 0")
	default:
		q.and("total_purchases > 0")
	}
	q.anyOf("rfm_group = ANY(%s)", f.RFMGroup)
	for _, b := range []struct {
		cond string
		v    any
	}{
		{"recency_score >= ", f.MinRecencyScore}, {"recency_score <= ", f.MaxRecencyScore},
		{"frequency_score >= ", f.MinFrequencyScore}, {"monetary_score >= ", f.MinMonetaryScore},
		{"p_alive >= ", f.MinPAlive}, {"p_alive <= ", f.MaxPAlive},
	} {
		switch v := b.v.(type) {
		case *int64:
			if v != nil {
				q.and(b.cond + q.arg(*v))
			}
		case *float64:
			if v != nil {
				q.and(b.cond + q.arg(*v))
			}
		}
	}
	for _, token := range f.QueryTokens() {
		q.and("EXISTS (SELECT 1 FROM unnest(search_tokens) AS t(token) WHERE starts_with(t.token, " + q.arg(token) + "))")
	}
}

// anyOf adds cond, whose %s is the list's placeholder, when the list is set.
func (q *query) anyOf(cond string, values segment.StringList) {
	if values != nil {
		q.and(strings.Replace(cond, "%s", q.arg([]string(values)), 1))
	}
}

func (q *query) money(column string, lo, hi *profile.Cents) {
	if lo != nil {
		q.and(column + " >= " + q.arg(int64(*lo)))
	}
	if hi != nil {
		q.and(column + " <= " + q.arg(int64(*hi)))
	}
}
