package export

import "regexp"

// CSV injection ("formula injection", OWASP): a spreadsheet opening a CSV
// file runs a cell that begins with = + - @ (or tab or carriage return,
// which some programs strip before looking) as a formula: =HYPERLINK(...)
// in a customer's name becomes a link, a DDE call a command. OWASP's
// remedy is to prefix such cells with a single quote, which spreadsheets
// show and do not evaluate.

// formulaStart are the first bytes OWASP lists as starting a formula.
const formulaStart = "=+-@\t\r"

// phoneShape is a value a plus sign starts that holds only digits,
// spaces, dots, dashes and parentheses (+506 8888 0000, +1 (555) 010-9999).
// It is left as it is so phone numbers stay readable and dialable: without
// a letter there is no function name or cell reference, without ! | : no
// sheet, DDE or range, so a spreadsheet can at worst show it as a number
// or compute arithmetic on it (+1-2 shows -1); it can reach nothing.
var phoneShape = regexp.MustCompile(`^\+[0-9 ().-]*[0-9][0-9 ().-]*$`)

// neutralizeFormula returns s prefixed with a single quote when a
// spreadsheet would run it as a formula.
func neutralizeFormula(s string) string {
	if s == "" || !containsByte(formulaStart, s[0]) || phoneShape.MatchString(s) {
		return s
	}
	return "'" + s
}

func containsByte(set string, b byte) bool {
	for i := 0; i < len(set); i++ {
		if set[i] == b {
			return true
		}
	}
	return false
}
