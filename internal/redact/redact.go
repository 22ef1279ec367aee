// Package redact hides secrets in connection strings before they reach an
// error message or a log line. It imports nothing of the project, so the
// configuration and every adapter can use it.
package redact

import (
	"regexp"
	"strings"
)

// Mask replaces every hidden secret.
const Mask = "xxxxx"

// secretParam matches password-like query or key=value parameters
// (libpq's password=, sslpassword=, a token=...).
var secretParam = regexp.MustCompile(`(?i)\b((?:ssl)?password|pass|pwd|secret|token|api_?key)=([^&\s]*)`)

// URL returns raw with its password, and any password-like parameter,
// replaced by Mask. It works on the text, not on a parsed URL, so it never
// returns the secret even for a string url.Parse rejects or misreads (an
// unescaped '@' or '/' in the password, a bad port): when in doubt it
// masks more.
func URL(raw string) string {
	return secretParam.ReplaceAllString(maskUserinfo(raw), "${1}="+Mask)
}

// maskUserinfo masks what lies between the first ':' after "//" (or after
// the start, without a scheme) and the last '@' after it.
func maskUserinfo(raw string) string {
	start := strings.Index(raw, "//")
	if start < 0 {
		start = -2
	}
	rest := raw[start+2:]
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return raw
	}
	colon := strings.Index(rest[:at], ":")
	if colon < 0 {
		return raw
	}
	return raw[:start+2] + rest[:colon+1] + Mask + rest[at:]
}
