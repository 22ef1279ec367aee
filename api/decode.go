package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"

	"github.com/gin-gonic/gin"
)

// maxBody bounds request bodies.
const maxBody = 1 << 20

// decodeJSON reads a JSON body into v, rejecting unknown fields, and
// answers 400, 413 or 415 itself when it cannot. It reports success.
func decodeJSON(c *gin.Context, v any) bool {
	body, ok := readBody(c)
	if !ok {
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		field, msg := "body", err.Error()
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			field, msg = typeErr.Field, "has the wrong type: want "+typeErr.Type.String()
		} else if f, ok := unknownField(err); ok {
			field, msg = f, "is not a known field"
		}
		invalid(c, field, msg)
		return false
	}
	return true
}

// readBody returns a JSON request body of at most maxBody bytes, or
// answers 413 or 415 itself.
func readBody(c *gin.Context) ([]byte, bool) {
	if ct := c.GetHeader("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			writeProblem(c, problem(http.StatusUnsupportedMediaType, "send the body as application/json"))
			return nil, false
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxBody))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		writeProblem(c, problem(http.StatusRequestEntityTooLarge, "the body is larger than 1 MiB"))
		return nil, false
	}
	if err != nil {
		invalid(c, "body", "could not read the body")
		return nil, false
	}
	return body, true
}

// unknownField extracts the name from encoding/json's unknown-field error.
func unknownField(err error) (string, bool) {
	const prefix = `json: unknown field "`
	s := err.Error()
	if len(s) > len(prefix) && s[:len(prefix)] == prefix {
		return s[len(prefix) : len(s)-1], true
	}
	return "", false
}
