package elastic

import (
	"strconv"

	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/segment"
)

// AppendDocument appends the indexed document of p: exactly what
// json.Marshal(Document(*p)) writes, without reflection and without
// building the Doc's lists. A full sync writes every customer's document,
// and encoding it with json.Marshal was a large part of the worker's CPU.
// The members are Doc's in json.Marshal's order: the profile's without
// its decimal amounts (the shadowing fields are empty and omitted), then
// Doc's own. Like profile.AppendJSON, it panics on a profile json.Marshal
// cannot write.
func AppendDocument(b []byte, p *profile.Profile) []byte {
	b = profile.AppendJSONMembers(append(b, '{'), p, false)
	b = strconv.AppendInt(append(b, `,"totalSpentCents":`...), int64(p.TotalSpent), 10)
	b = strconv.AppendInt(append(b, `,"averageTicketCents":`...), int64(p.AverageTicket), 10)
	name := profile.Fold(p.Name)
	b = profile.AppendStrings(append(b, `,"searchTokens":`...), segment.TokensOf(name, p.Email, p.Phone))
	b = strconv.AppendInt(append(b, `,"sourceVersion":`...), p.SourceVersion, 10)
	b = append(profile.AppendFingerprint(append(b, `,"fingerprint":"`...), p), '"') // hex: nothing to escape
	b = appendFloatKey(append(b, `,"pAliveKey":`...), p.PAlive)
	b = appendFloatKey(append(b, `,"expectedPurchases90dKey":`...), p.ExpectedPurchases90d)
	return append(appendFoldedKeys(b, name, p), '}')
}

// appendFloatKey writes segment.FloatKey(*v), null when v is nil.
func appendFloatKey(b []byte, v *float64) []byte {
	if v == nil {
		return append(b, "null"...)
	}
	return strconv.AppendInt(b, segment.FloatKey(*v), 10)
}

// appendFoldedKeys writes the folded copies, from nameKey (name, folded
// already) to favoriteIngredientsKey, as Document folds them.
func appendFoldedKeys(b []byte, name string, p *profile.Profile) []byte {
	b = profile.AppendString(append(b, `,"nameKey":`...), name)
	b = profile.AppendString(append(b, `,"cityKey":`...), profile.FoldTerm(p.City))
	b = appendFolded(append(b, `,"productsKey":`...), p.Products)
	b = appendFolded(append(b, `,"ingredientsKey":`...), p.Ingredients)
	b = appendFolded(append(b, `,"favoriteProductsKey":`...), p.FavoriteProducts)
	return appendFolded(append(b, `,"favoriteIngredientsKey":`...), p.FavoriteIngredients)
}

// appendFolded writes profile.FoldTerms(values): each value folded, []
// when there are none (never null, as FoldTerms returns).
func appendFolded(b []byte, values []string) []byte {
	b = append(b, '[')
	for i, v := range values {
		if i > 0 {
			b = append(b, ',')
		}
		b = profile.AppendString(b, profile.FoldTerm(v))
	}
	return append(b, ']')
}
