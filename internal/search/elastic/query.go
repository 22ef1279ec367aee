package elastic

import "github.com/reactivation/reactivation/internal/segment"

// Query compiles a normalised filter to an Elasticsearch bool query in
// filter context (no scoring), with the lastPurchaseAt bounds computed by
// f.Bounds. It is the only place Elasticsearch queries are built.
func Query(f segment.Filter, b segment.Bounds) map[string]any {
	var must []map[string]any
	add := func(q map[string]any) { must = append(must, q) }
	terms := func(field string, values segment.StringList) {
		if values != nil {
			add(map[string]any{"terms": map[string]any{field: []string(values)}})
		}
	}
	term := func(field string, value any) {
		add(map[string]any{"term": map[string]any{field: value}})
	}
	rng := func(field string, r map[string]any) {
		if len(r) > 0 {
			add(map[string]any{"range": map[string]any{field: r}})
		}
	}

	if f.CompanyID != nil {
		term("companyId", *f.CompanyID)
	}
	// The filter's values are folded (Normalize), as the *Key copies are.
	terms("gender", f.Gender)
	terms("cityKey", f.City)
	terms("productsKey", f.Products)
	terms("ingredientsKey", f.Ingredients)
	terms("favoriteProductsKey", f.FavoriteProducts)
	terms("favoriteIngredientsKey", f.FavoriteIngredients)

	dates := map[string]any{}
	if b.From != nil {
		dates["gte"] = b.From.UnixMilli()
	}
	if b.Before != nil {
		dates["lt"] = b.Before.UnixMilli()
	}
	if len(dates) > 0 {
		dates["format"] = "epoch_millis"
	}
	rng("lastPurchaseAt", dates)

	rng("totalPurchases", intRange(f.MinTotalPurchases, f.MaxTotalPurchases))
	rng("totalSpentCents", intRange(f.MinTotalSpent, f.MaxTotalSpent))
	rng("averageTicketCents", intRange(f.MinAverageTicket, f.MaxAverageTicket))

	if f.HasEmail != nil {
		term("hasEmail", *f.HasEmail)
	}
	if f.HasPhone != nil {
		term("hasPhone", *f.HasPhone)
	}
	switch {
	case f.NeverPurchased == nil:
	case *f.NeverPurchased:
		term("totalPurchases", 0)
	default:
		rng("totalPurchases", map[string]any{"gt": 0})
	}
	terms("rfmGroup", f.RFMGroup)
	rng("recencyScore", intRange(f.MinRecencyScore, f.MaxRecencyScore))
	rng("frequencyScore", intRange(f.MinFrequencyScore, nil))
	rng("monetaryScore", intRange(f.MinMonetaryScore, nil))
	rng("pAliveKey", intRange(segment.FloatKeyOf(f.MinPAlive), segment.FloatKeyOf(f.MaxPAlive)))
	for _, token := range f.QueryTokens() {
		add(map[string]any{"prefix": map[string]any{"searchTokens": token}})
	}
	if len(must) == 0 {
		return map[string]any{"match_all": map[string]any{}}
	}
	return map[string]any{"bool": map[string]any{"filter": must}}
}

// intRange bounds a long field, inclusive.
func intRange[T ~int64](lo, hi *T) map[string]any {
	r := map[string]any{}
	if lo != nil {
		r["gte"] = int64(*lo)
	}
	if hi != nil {
		r["lte"] = int64(*hi)
	}
	return r
}
