// Package segment defines the segment filter: the JSON document marketing
// teams use to describe a set of customers, its strict decoding, validation
// and normalisation, and the values (time bounds, search tokens, sort,
// cursor) both search engines compile it with, so they agree exactly.
package segment

import "github.com/reactivation/reactivation/internal/profile"

// Filter is a segment filter. Pointer and nil fields are absent and do not
// constrain; every present field must match (AND). List fields match when
// the customer has any of the values; an empty list is absent.
//
// A Filter fresh from Decode or Normalize is normalised: genders are
// female/male/other/unknown, text values are folded with profile.Fold,
// lists are sorted and deduplicated, and q is folded. Its JSON (the struct
// tags) is the canonical encoding.
type Filter struct {
	Gender                   StringList     `json:"gender,omitempty"`
	City                     StringList     `json:"city,omitempty"`
	MinDaysSinceLastPurchase *int64         `json:"minDaysSinceLastPurchase,omitempty"`
	MaxDaysSinceLastPurchase *int64         `json:"maxDaysSinceLastPurchase,omitempty"`
	LastPurchaseFrom         *string        `json:"lastPurchaseFrom,omitempty"`
	LastPurchaseTo           *string        `json:"lastPurchaseTo,omitempty"`
	MinTotalPurchases        *int64         `json:"minTotalPurchases,omitempty"`
	MaxTotalPurchases        *int64         `json:"maxTotalPurchases,omitempty"`
	MinTotalSpent            *profile.Cents `json:"minTotalSpent,omitempty"`
	MaxTotalSpent            *profile.Cents `json:"maxTotalSpent,omitempty"`
	MinAverageTicket         *profile.Cents `json:"minAverageTicket,omitempty"`
	MaxAverageTicket         *profile.Cents `json:"maxAverageTicket,omitempty"`
	Products                 StringList     `json:"products,omitempty"`
	Ingredients              StringList     `json:"ingredients,omitempty"`
	FavoriteProducts         StringList     `json:"favoriteProducts,omitempty"`
	FavoriteIngredients      StringList     `json:"favoriteIngredients,omitempty"`
	HasEmail                 *bool          `json:"hasEmail,omitempty"`
	HasPhone                 *bool          `json:"hasPhone,omitempty"`
	// NeverPurchased true matches customers with no purchase, false those
	// with at least one. Combined with purchase filters it may match nothing.
	NeverPurchased *bool `json:"neverPurchased,omitempty"`
	// Q is free text over name, email and phone: every token must be a
	// prefix of one of the customer's SearchTokens.
	Q *string `json:"q,omitempty"`
	// CompanyID restricts the filter to one company. Company keys are
	// pinned with PinCompany; admin keys must name one (RequireCompany).
	CompanyID *string `json:"companyId,omitempty"`
	// RFMGroup matches customers in any of the listed groups of the RF
	// grid (scores.Groups, prospects included).
	RFMGroup StringList `json:"rfmGroup,omitempty"`
	// Score bounds (1-5, inclusive); customers without scores never match.
	MinRecencyScore   *int64 `json:"minRecencyScore,omitempty"`
	MaxRecencyScore   *int64 `json:"maxRecencyScore,omitempty"`
	MinFrequencyScore *int64 `json:"minFrequencyScore,omitempty"`
	MinMonetaryScore  *int64 `json:"minMonetaryScore,omitempty"`
	// P(alive) bounds (0-1, inclusive); customers without one never match.
	MinPAlive *float64 `json:"minPAlive,omitempty"`
	MaxPAlive *float64 `json:"maxPAlive,omitempty"`
}

// StringList is a JSON value given either as one string or a list of
// strings; it is always written as a list.
type StringList []string
