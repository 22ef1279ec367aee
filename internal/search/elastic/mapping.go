package elastic

import (
	"encoding/json"
	"fmt"

	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/search"
	"github.com/reactivation/reactivation/internal/segment"
)

// Doc is the indexed document: the profile's JSON, which searches return
// as the customer, plus the tokens q is matched against and the amounts in
// whole cents. Index it with id = CustomerID and routing = CompanyID (see
// Routing).
type Doc struct {
	profile.Profile
	SearchTokens []string `json:"searchTokens"`
	// The amounts as longs, which filters and sorts use: OpenSearch 2.x
	// prunes a scaled_float sort with the wrong point encoding and drops
	// hits, and a long is exact without float bounds.
	TotalSpentCents    int64 `json:"totalSpentCents"`
	AverageTicketCents int64 `json:"averageTicketCents"`
	// SourceVersion is also the document's external version (see bulk).
	SourceVersion int64 `json:"sourceVersion"`
	// Fingerprint is profile.Fingerprint of the document's profile; the
	// reconcile pass reads it back from doc values (not indexed).
	Fingerprint string `json:"fingerprint"`
	// The scores' floats as longs (segment.FloatKey), which filters and
	// sorts use: exact, ordered like the floats, missing sorted last.
	PAliveKey               *int64 `json:"pAliveKey"`
	ExpectedPurchases90dKey *int64 `json:"expectedPurchases90dKey"`
}

// Document returns the indexed document of p.
func Document(p profile.Profile) Doc {
	d := Doc{
		Profile:            p,
		SearchTokens:       segment.SearchTokens(p),
		TotalSpentCents:    int64(p.TotalSpent),
		AverageTicketCents: int64(p.AverageTicket),
		SourceVersion:      p.SourceVersion,
		Fingerprint:        profile.Fingerprint(p),
	}
	d.PAliveKey, d.ExpectedPurchases90dKey = segment.FloatKeyOf(p.PAlive), segment.FloatKeyOf(p.ExpectedPurchases90d)
	return d
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
// Keyword fields that filters match case- and accent-insensitively use the
// "fold" normalizer, which matches profile.Fold for Latin text: white space
// collapsed and trimmed, lowercase, accents and marks removed.
//
// Every keyword ignores values over KeywordLimit characters: the engine
// refuses a term over 32,766 bytes, and one oversized name or product must
// not fail every sync. Such a value stays whole in _source; only filters
// and sorts on it do not see it.
func IndexBody() []byte {
	keyword := map[string]any{"type": "keyword", "ignore_above": KeywordLimit}
	folded := map[string]any{"type": "keyword", "normalizer": "fold", "ignore_above": KeywordLimit}
	date := map[string]any{"type": "date"}
	money := map[string]any{"type": "scaled_float", "scaling_factor": 100}
	long := map[string]any{"type": "long"}
	boolean := map[string]any{"type": "boolean"}
	body := map[string]any{
		"settings": map[string]any{
			"number_of_shards": 1,
			// Deleted documents' versions are remembered this long, so a
			// write older than a delete cannot bring the customer back.
			"gc_deletes": fmt.Sprintf("%ds", int64(search.TombstoneRetention.Seconds())),
			"analysis": map[string]any{
				"char_filter": map[string]any{
					// The white space of Go's unicode.IsSpace, as Fold sees it.
					"fold_space": map[string]any{"type": "pattern_replace", "pattern": `[\s\p{Z}\x{85}]+`, "replacement": " "},
					"fold_trim":  map[string]any{"type": "pattern_replace", "pattern": `^ | $`, "replacement": ""},
					"fold_marks": map[string]any{"type": "pattern_replace", "pattern": `\p{Mn}+`, "replacement": ""},
				},
				"normalizer": map[string]any{
					"fold": map[string]any{
						"type":        "custom",
						"char_filter": []string{"fold_marks", "fold_space", "fold_trim"},
						"filter":      []string{"lowercase", "asciifolding"},
					},
				},
				"analyzer": map[string]any{
					"fold": map[string]any{
						"type":      "custom",
						"tokenizer": "standard",
						"filter":    []string{"lowercase", "asciifolding"},
					},
				},
			},
		},
		"mappings": map[string]any{
			"dynamic": "strict",
			"properties": map[string]any{
				"customerId": keyword,
				"companyId":  keyword,
				"name": map[string]any{
					"type":     "text",
					"analyzer": "fold",
					"fields":   map[string]any{"sort": folded},
				},
				"email":               keyword,
				"phone":               keyword,
				"gender":              folded,
				"genderRaw":           keyword,
				"city":                folded,
				"createdAt":           date,
				"updatedAt":           date,
				"firstPurchaseAt":     date,
				"lastPurchaseAt":      date,
				"totalPurchases":      long,
				"totalSpent":          money,
				"averageTicket":       money,
				"totalSpentCents":     long,
				"averageTicketCents":  long,
				"products":            folded,
				"favoriteProducts":    folded,
				"ingredients":         folded,
				"favoriteIngredients": folded,
				"hasEmail":            boolean,
				"hasPhone":            boolean,
				"searchTokens":        keyword,
				"sourceVersion":       long,
				"fingerprint":         map[string]any{"type": "keyword", "index": false, "doc_values": true},
				// scores
				"recencyScore":            long,
				"frequencyScore":          long,
				"monetaryScore":           long,
				"rfmGroup":                keyword,
				"pAlive":                  map[string]any{"type": "double"},
				"expectedPurchases90d":    map[string]any{"type": "double"},
				"pAliveKey":               long,
				"expectedPurchases90dKey": long,
			},
		},
	}
	b, err := json.Marshal(body)
	if err != nil {
		panic("elastic: encode index body: " + err.Error()) // a literal cannot fail
	}
	return b
}
