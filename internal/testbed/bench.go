package testbed

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// MooringBinary returns the mooring binary a benchmark runs as users run
// it: MOORING_BIN, which the `make bench-*` targets set to the bin/mooring
// they just built.
func MooringBinary(t testing.TB) string {
	t.Helper()
	p := os.Getenv("MOORING_BIN")
	if p == "" {
		t.Fatalf("testbed: set MOORING_BIN to a built mooring (make bench-* does)")
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		t.Fatalf("testbed: %v", err)
	}
	if _, err := os.Stat(abs); err != nil {
		t.Fatalf("testbed: MOORING_BIN: %v", err)
	}
	return abs
}

// BenchRounds returns how many rounds a side-by-side benchmark runs:
// MOORING_BENCH_ROUNDS, else def.
func BenchRounds(t testing.TB, def int) int {
	t.Helper()
	s := os.Getenv("MOORING_BENCH_ROUNDS")
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		t.Fatalf("testbed: MOORING_BENCH_ROUNDS=%q is not a positive number", s)
	}
	return n
}
