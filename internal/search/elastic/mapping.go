package elastic

import (
	"encoding/json"
	"fmt"

	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/search"
	"github.com/reactivation/reactivation/internal/segment"
)

// Doc is the indexed document: the profile's JSON, which searches return
// as the customer, with money kept once, in whole cents, plus the tokens q
// is matched against. Index it with id = CustomerID and routing =
// CompanyID (see Routing); read it back with DecodeSource.
type Doc struct {
	profile.Profile
	// The profile's decimal amounts are not written: these fields carry
	// the same JSON names and are empty, so they shadow the embedded ones.
	// A document written before money was kept once still has them; they
	// are read here and ignored.
	OmitTotalSpent    json.RawMessage `json:"totalSpent,omitempty"`
	OmitAverageTicket json.RawMessage `json:"averageTicket,omitempty"`
	// The amounts as longs, which filters, sorts and the returned profile
	// use: exact without float bounds (OpenSearch 2.x also prunes a
	// scaled_float sort with the wrong point encoding and drops hits).
	TotalSpentCents    int64    `json:"totalSpentCents"`
	AverageTicketCents int64    `json:"averageTicketCents"`
	SearchTokens       []string `json:"searchTokens"`
	// SourceVersion is also the document's external version (see bulk).
	SourceVersion int64 `json:"sourceVersion"`
	// Fingerprint is profile.Fingerprint of the document's profile; the
	// reconcile pass reads it back from doc values (not indexed).
	Fingerprint string `json:"fingerprint"`
	// The scores' floats as longs (segment.FloatKey), which filters and
	// sorts use: exact, ordered like the floats, missing sorted last.
	PAliveKey               *int64 `json:"pAliveKey"`
	ExpectedPurchases90dKey *int64 `json:"expectedPurchases90dKey"`
	// The folded values (profile.Fold) that filters match and the name
	// sort compares, folded here rather than by an engine normalizer: the
	// normalizer's pattern_replace char filters, run on some sixty terms a
	// document, made ingestion 2.6 times slower (docs/index-mapping.md).
	// The profile's own fields keep the values as they are, for display.
	NameKey                string   `json:"nameKey"`
	CityKey                string   `json:"cityKey"`
	ProductsKey            []string `json:"productsKey"`
	IngredientsKey         []string `json:"ingredientsKey"`
	FavoriteProductsKey    []string `json:"favoriteProductsKey"`
	FavoriteIngredientsKey []string `json:"favoriteIngredientsKey"`
}

// Document returns the indexed document of p.
func Document(p profile.Profile) Doc {
	name := profile.Fold(p.Name)
	d := Doc{
		Profile:            p,
		SearchTokens:       segment.TokensOf(name, p.Email, p.Phone),
		TotalSpentCents:    int64(p.TotalSpent),
		AverageTicketCents: int64(p.AverageTicket),
		SourceVersion:      p.SourceVersion,
		Fingerprint:        profile.Fingerprint(p),
	}
	d.PAliveKey, d.ExpectedPurchases90dKey = segment.FloatKeyOf(p.PAlive), segment.FloatKeyOf(p.ExpectedPurchases90d)
	d.NameKey, d.CityKey = name, profile.FoldTerm(p.City)
	d.ProductsKey, d.IngredientsKey = profile.FoldTerms(p.Products), profile.FoldTerms(p.Ingredients)
	d.FavoriteProductsKey, d.FavoriteIngredientsKey = profile.FoldTerms(p.FavoriteProducts), profile.FoldTerms(p.FavoriteIngredients)
	return d
}

// DecodeSource reads a document's _source (whole, or the fields
// SourceFields asked for) back into the profile it was written from: the
// amounts come from their cents. It is how every read of the index turns a
// hit into a customer.
func DecodeSource(src []byte) (profile.Profile, error) {
	var d source
	if err := json.Unmarshal(src, &d); err != nil {
		return profile.Profile{}, err
	}
	p := d.Profile
	p.TotalSpent, p.AverageTicket = profile.Cents(d.TotalSpentCents), profile.Cents(d.AverageTicketCents)
	return p, nil
}

// source is what DecodeSource reads of a Doc: the fields only the engine
// uses (searchTokens, fingerprint, the keys) are skipped, not decoded, so
// a whole document costs no allocation for them.
type source struct {
	profile.Profile
	OmitTotalSpent     json.RawMessage `json:"totalSpent,omitempty"`
	OmitAverageTicket  json.RawMessage `json:"averageTicket,omitempty"`
	TotalSpentCents    int64           `json:"totalSpentCents"`
	AverageTicketCents int64           `json:"averageTicketCents"`
}

// SourceFields returns the document fields that hold the listed profile
// fields (JSON names), for a _source include: the amounts live in their
// cents fields.
func SourceFields(fields []string) []string {
	out := make([]string, len(fields))
	for i, f := range fields {
		switch f {
		case "totalSpent":
			out[i] = "totalSpentCents"
		case "averageTicket":
			out[i] = "averageTicketCents"
		default:
			out[i] = f
		}
	}
	return out
}

// Routing is the routing key a profile is indexed with: its company, so a
// company's searches read one shard when an index has several.
func Routing(p profile.Profile) string { return p.CompanyID }

// KeywordLimit is the longest keyword value, in characters, that filters
// and sorts see: 4,096 characters stay under Lucene's 32,766-byte term
// limit whatever the UTF-8 width of each character and its folding.
const KeywordLimit = 4096

// IndexBody returns the settings and mappings that create a generation
// index (PUT /<index>). Load settings (refresh, replicas) are the indexer's.
//
// Each field is indexed only for what the queries do with it
// (docs/index-mapping.md has the table): filtered fields are indexed,
// sorted ones keep doc values, fields only returned are neither (they
// live in _source), and nothing is scored, so no field has norms or
// positions. Money is kept once, in cents.
//
// Fields that filters match case- and accent-insensitively (city, the
// products and ingredients) and the name sort read folded copies that
// Document computes with profile.Fold (white space collapsed and trimmed,
// lowercase, accents and marks removed: what the filters' values are
// folded with too); the fields themselves are only returned. The engine
// folds nothing: its normalizer did the same work with regular
// expressions on every term at ingestion, 2.6 times the cost of the
// whole bulk load.
//
// Every keyword that is indexed or sorted ignores values over KeywordLimit
// characters: the engine refuses a term over 32,766 bytes, and one
// oversized name or product must not fail every sync. Such a value stays
// whole in _source; only filters and sorts on it do not see it.
func IndexBody() []byte {
	// filtered only: an inverted index, no doc values.
	filterKeyword := map[string]any{"type": "keyword", "ignore_above": KeywordLimit, "doc_values": false}
	filterLong := map[string]any{"type": "long", "doc_values": false}
	filterBoolean := map[string]any{"type": "boolean", "doc_values": false}
	// filtered and sorted (or read back from doc values): both.
	keyword := map[string]any{"type": "keyword", "ignore_above": KeywordLimit}
	date := map[string]any{"type": "date"}
	long := map[string]any{"type": "long"}
	// sorted or read back from doc values only: no inverted index.
	sortLong := map[string]any{"type": "long", "index": false}
	// returned only: kept in _source, nothing indexed.
	storedKeyword := map[string]any{"type": "keyword", "index": false, "doc_values": false}
	storedDate := map[string]any{"type": "date", "index": false, "doc_values": false}
	storedDouble := map[string]any{"type": "double", "index": false, "doc_values": false}
	body := map[string]any{
		"settings": map[string]any{
			"number_of_shards": 1,
			// Deleted documents' versions are remembered this long, so a
			// write older than a delete cannot bring the customer back.
			"gc_deletes": fmt.Sprintf("%ds", int64(search.TombstoneRetention.Seconds())),
		},
		"mappings": map[string]any{
			"dynamic": "strict",
			// No query asks whether a field exists; without this every
			// field without doc values would also be indexed by name.
			"_field_names": map[string]any{"enabled": false},
			"properties": map[string]any{
				"customerId":             keyword,       // the sort's tie-breaker, fingerprint ranges and lookups; id scans read it back
				"companyId":              keyword,       // every company's filter; read back by reconcile
				"name":                   storedKeyword, // nameKey sorts; q matches searchTokens
				"nameKey":                map[string]any{"type": "keyword", "ignore_above": KeywordLimit, "index": false},
				"email":                  storedKeyword, // q matches searchTokens, hasEmail the boolean
				"phone":                  storedKeyword,
				"gender":                 filterKeyword, // normalised already (female, male, other, unknown)
				"genderRaw":              storedKeyword,
				"city":                   storedKeyword, // cityKey filters
				"cityKey":                filterKeyword,
				"createdAt":              storedDate,
				"updatedAt":              storedDate,
				"firstPurchaseAt":        storedDate,
				"lastPurchaseAt":         date,
				"totalPurchases":         long,
				"totalSpentCents":        long,
				"averageTicketCents":     long,
				"products":               storedKeyword, // the *Key copies filter
				"favoriteProducts":       storedKeyword,
				"ingredients":            storedKeyword,
				"favoriteIngredients":    storedKeyword,
				"productsKey":            filterKeyword,
				"favoriteProductsKey":    filterKeyword,
				"ingredientsKey":         filterKeyword,
				"favoriteIngredientsKey": filterKeyword,
				"hasEmail":               filterBoolean,
				"hasPhone":               filterBoolean,
				"searchTokens":           filterKeyword, // prefix queries of q
				"sourceVersion":          sortLong,      // read back by reconcile
				"fingerprint":            map[string]any{"type": "keyword", "index": false},
				// scores
				"recencyScore":            filterLong,
				"frequencyScore":          filterLong,
				"monetaryScore":           filterLong,
				"rfmGroup":                filterKeyword,
				"pAlive":                  storedDouble,
				"expectedPurchases90d":    storedDouble,
				"pAliveKey":               long,
				"expectedPurchases90dKey": sortLong,
			},
		},
	}
	b, err := json.Marshal(body)
	if err != nil {
		panic("elastic: encode index body: " + err.Error()) // a literal cannot fail
	}
	return b
}
