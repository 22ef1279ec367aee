package api

import (
	"errors"

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
		fe.Field = prefix + fe.Field
		out.Errors = append(out.Errors, fe)
	}
	return out
}
