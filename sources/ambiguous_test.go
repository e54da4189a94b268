package sources_test

import (
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/mooringhq/mooring/internal/testbed"
	"github.com/mooringhq/mooring/sources"
)

// TestShortSHAAmbiguous builds enough commits (with git fast-import) that
// two share their first four hex digits.
func TestShortSHAAmbiguous(t *testing.T) {
	t.Parallel()
	w := testbed.NewGitWork(t, t.TempDir())
	var in strings.Builder
	// The stream is deterministic: commits 257 and an earlier one share
	// "e02e".
	const n = 260
	// Each commit continues the branch: fast-import chains commits to one
	// ref within a stream.
	for i := range n {
		fmt.Fprintf(&in, "commit refs/heads/main\ncommitter Mooring Test <test@mooring.invalid> %d +0000\ndata <<EOF\nc%d\nEOF\n", 1767268800+i, i)
		fmt.Fprintf(&in, "M 644 inline n.txt\ndata <<EOF\n%d\nEOF\n\n", i)
	}
	cmd := exec.Command("git", "fast-import", "--quiet")
	cmd.Dir = w.Dir
	cmd.Stdin = strings.NewReader(in.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("fast-import: %v\n%s", err, out)
	}
	shas := strings.Fields(w.Git("rev-list", "main"))
	if len(shas) != n {
		t.Fatalf("%d commits, want %d", len(shas), n)
	}
	seen := map[string]string{}
	var a, b string
	for _, s := range shas {
		if other, ok := seen[s[:4]]; ok {
			a, b = other, s
			break
		}
		seen[s[:4]] = s
	}
	if a == "" {
		t.Fatal("no two commits share 4 digits")
	}
	_, err := sources.Fetch(ctx(t), w.Dir, a[:4], sources.DefaultOptions())
	if !errors.Is(err, sources.ErrAmbiguousRef) {
		t.Fatalf("Fetch(%s) err = %v, want ErrAmbiguousRef", a[:4], err)
	}
	if !strings.Contains(err.Error(), a) || !strings.Contains(err.Error(), b) {
		t.Errorf("error %q does not list both commits", err)
	}
	// Enough digits to be unique resolve.
	for _, s := range []string{a, b} {
		k := 5
		for strings.HasPrefix(a, s[:k]) && strings.HasPrefix(b, s[:k]) {
			k++
		}
		rev, err := sources.Fetch(ctx(t), w.Dir, s[:k+1], sources.DefaultOptions())
		if err != nil || rev.Commit != s {
			t.Errorf("Fetch(%s) = %v, %v; want %s", s[:k+1], rev, err, s)
		}
	}
	if _, err := sources.Fetch(ctx(t), w.Dir, "abc", sources.DefaultOptions()); !errors.Is(err, sources.ErrRefNotFound) {
		t.Errorf("3-digit ref: err = %v, want ErrRefNotFound", err)
	}
}
