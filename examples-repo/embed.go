// Package examplesrepo carries the example desired-state repository inside
// the mooring binary, so `mooring demo` runs with nothing but the binary.
package examplesrepo

import "embed"

// FS holds base/, overlays/ and the README of the example repository.
//
//go:embed all:base all:overlays
var FS embed.FS
