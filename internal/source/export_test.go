package source

// AppendBinaryArray exposes appendBinaryArray to the external tests.
var AppendBinaryArray = appendBinaryArray
