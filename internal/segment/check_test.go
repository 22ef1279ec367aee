package segment_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/reactivation/reactivation/internal/segment"
)

// testify is not in go.sum; these few checks stand in for require.

func noErr(t testing.TB, err error, msg ...any) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error %v %v", err, msg)
	}
}

func equal(t testing.TB, want, got any, msg ...any) {
	t.Helper()
	if !reflect.DeepEqual(want, got) {
		t.Fatalf("got  %#v\nwant %#v %v", got, want, msg)
	}
}

// fieldErrors returns the field errors of err, which must be a
// *segment.ValidationError.
func fieldErrors(t testing.TB, err error) []segment.FieldError {
	t.Helper()
	var ve *segment.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v is not a *segment.ValidationError", err)
	}
	return ve.Errors
}
