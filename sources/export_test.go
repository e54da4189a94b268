package sources

// NotProvenClean exposes notProvenClean to the external tests.
var NotProvenClean = notProvenClean
