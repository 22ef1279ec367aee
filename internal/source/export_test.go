package source

// AppendBinaryArray exposes appendBinaryArray to the external tests.
var AppendBinaryArray = appendBinaryArray

// LinesKey and RangeSQL expose linesKey and a range read's queries to
// the external tests.
var LinesKey = linesKey

func RangeSQL(key, lo, hi string) (lines, customers string, args []any) {
	sel := rangeOf(lo, hi)
	return linesSQL(key, sel), customersSQL(sel), sel.args
}

// CentsBinary and CentsText expose the amount decoders to the external
// tests.
var CentsBinary, CentsText = centsBinary, centsText
