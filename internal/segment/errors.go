package segment

import (
	"fmt"
	"strings"
)

// FieldError is one problem with one field of a request.
type FieldError struct {
	// Field is the JSON name of the field ("minTotalSpent", "cursor"), or ""
	// for the body as a whole.
	Field   string `json:"field"`
	Message string `json:"message"`
}

// ValidationError reports every problem found in a filter or search
// request. The API answers it with 400 and the list of field errors.
type ValidationError struct {
	Errors []FieldError `json:"errors"`
}

// Error joins the field errors into one line.
func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Errors))
	for i, fe := range e.Errors {
		if fe.Field == "" {
			parts[i] = fe.Message
			continue
		}
		parts[i] = fe.Field + ": " + fe.Message
	}
	return "invalid segment: " + strings.Join(parts, "; ")
}

// problems collects field errors while a request is checked.
type problems []FieldError

func (p *problems) add(field, format string, args ...any) {
	*p = append(*p, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// err returns nil when nothing was reported, else a *ValidationError.
func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	return &ValidationError{Errors: p}
}

// fieldError returns a *ValidationError with one field error.
func fieldError(field, format string, args ...any) error {
	var p problems
	p.add(field, format, args...)
	return p.err()
}
