package api

import (
	"encoding/json"
	"errors"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/reactivation/reactivation/internal/errs"
	"github.com/reactivation/reactivation/internal/segment"
)

// scopeFilter pins a company key's filter to its company, whatever the
// body says, and makes an admin key name companyId.
func scopeFilter(c *gin.Context, f *segment.Filter) error {
	k, _ := keyOf(c)
	if !k.Admin {
		f.PinCompany(k.CompanyID)
		return nil
	}
	return f.RequireCompany()
}

func conflictf(format string, args ...any) error { return errs.E(errs.Conflict, format, args...) }

// prefixFields renames the fields of a validation error, so the errors of
// a nested filter name "filter.city", not "city".
func prefixFields(err error, prefix string) error {
	var verr *segment.ValidationError
	if prefix == "" || !errors.As(err, &verr) {
		return err
	}
	out := &segment.ValidationError{}
	for _, fe := range verr.Errors {
		// An error about the whole nested value names the value itself.
		fe.Field = strings.TrimSuffix(prefix+fe.Field, ".")
		out.Errors = append(out.Errors, fe)
	}
	return out
}

// decodeNestedFilter decodes the "filter" member of an asynchronous
// request; absent or null is the empty filter.
func decodeNestedFilter(raw json.RawMessage) (segment.Filter, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return segment.Filter{}.Normalize()
	}
	return segment.Decode(raw)
}

// scopedFilter decodes the "filter" member of an asynchronous request and
// scopes it to the key (see scopeFilter). Its validation errors name
// "filter.<field>", or "filter" for the filter as a whole.
func scopedFilter(c *gin.Context, raw json.RawMessage) (segment.Filter, error) {
	f, err := decodeNestedFilter(raw)
	if err == nil {
		err = scopeFilter(c, &f)
	}
	if err != nil {
		return segment.Filter{}, prefixFields(err, "filter.")
	}
	return f, nil
}
