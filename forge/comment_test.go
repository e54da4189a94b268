package forge

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

func TestMarkerRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		key  string
		part int
	}{{"prod", 1}, {"prod", 2}, {"env/staging-1.a_b", 17}} {
		key, part, ok := parseMarker(Marker(tc.key, tc.part) + "\nbody")
		if !ok || key != tc.key || part != tc.part {
			t.Errorf("parseMarker(Marker(%q, %d)) = %q, %d, %v", tc.key, tc.part, key, part, ok)
		}
	}
	for _, body := range []string{"hello", "> " + Marker("prod", 1), "<!-- mooring:preview:bad key -->", "<!-- mooring:preview:p:part:1 -->", "<!-- mooring:preview:p"} {
		if _, _, ok := parseMarker(body); ok {
			t.Errorf("parseMarker(%q) accepted it", body)
		}
	}
}

func TestSplit(t *testing.T) {
	var b strings.Builder
	b.WriteString("intro\n```yaml\n")
	for i := range 200 {
		fmt.Fprintf(&b, "- address: 198.51.100.%d/32 # line %d\n", i%250, i)
	}
	b.WriteString("```\noutro\n")
	b.WriteString(strings.Repeat("x", 2500) + "\n") // one line longer than a part
	body := b.String()
	const limit = 1000
	parts := Split("prod", body, limit)
	if len(parts) < 8 {
		t.Fatalf("%d parts, want at least 8", len(parts))
	}
	var joined strings.Builder
	for i, p := range parts {
		if n := utf8.RuneCountInString(p); n > limit {
			t.Errorf("part %d: %d characters > %d", i+1, n, limit)
		}
		if !strings.HasPrefix(p, Marker("prod", i+1)+"\n") {
			t.Errorf("part %d does not start with its marker", i+1)
		}
		if strings.Count(p, "```")%2 != 0 {
			t.Errorf("part %d leaves a code fence open:\n%s", i+1, p)
		}
		joined.WriteString(p)
	}
	for i := range 200 {
		if !strings.Contains(joined.String(), fmt.Sprintf("# line %d\n", i)) {
			t.Errorf("line %d lost", i)
		}
	}
	if got := strings.Count(joined.String(), "x"); got != 2500 {
		t.Errorf("long line kept %d of 2500 characters", got)
	}
	if one := Split("k", "small", limit); len(one) != 1 || one[0] != Marker("k", 1)+"\nsmall" {
		t.Errorf("small body: %q", one)
	}
}

// memStore is a CommentStore in memory, for the upsert logic; the real
// forges are tested in the subpackages.
type memStore struct {
	next  int64
	cs    []RemoteComment
	calls []string
}

func (m *memStore) ListComments(context.Context, string, int) ([]RemoteComment, error) {
	m.calls = append(m.calls, "list")
	return append([]RemoteComment(nil), m.cs...), nil
}
func (m *memStore) CreateComment(_ context.Context, _ string, _ int, body string) error {
	m.next++
	m.cs = append(m.cs, RemoteComment{ID: m.next, Body: body})
	m.calls = append(m.calls, fmt.Sprintf("create %d", m.next))
	return nil
}
func (m *memStore) EditComment(_ context.Context, _ string, _ int, id int64, body string) error {
	for i := range m.cs {
		if m.cs[i].ID == id {
			m.cs[i].Body = body
		}
	}
	m.calls = append(m.calls, fmt.Sprintf("edit %d", id))
	return nil
}
func (m *memStore) DeleteComment(_ context.Context, _ string, _ int, id int64) error {
	for i := range m.cs {
		if m.cs[i].ID == id {
			m.cs = append(m.cs[:i], m.cs[i+1:]...)
			break
		}
	}
	m.calls = append(m.calls, fmt.Sprintf("delete %d", id))
	return nil
}

func TestUpsertComment(t *testing.T) {
	m := &memStore{next: 10, cs: []RemoteComment{{ID: 1, Body: "user"}, {ID: 2, Body: Marker("prod", 1) + "\nold"}, {ID: 3, Body: Marker("prod", 1) + "\nduplicate"}}}
	c := Comment{Repo: "o/r", PR: 1, Key: "prod", Body: "new"}
	ctx := context.Background()
	steps := []struct {
		body string
		want []string
	}{
		{"new", []string{"list", "edit 2", "delete 3"}},
		{"new", []string{"list"}}, // unchanged: no write
		{strings.Repeat("line of text\n", 300), []string{"list", "edit 2", "create 11", "create 12", "create 13", "create 14"}},
		{"short", []string{"list", "edit 2", "delete 11", "delete 12", "delete 13", "delete 14"}},
	}
	for i, s := range steps {
		m.calls = nil
		c.Body = s.body
		if err := UpsertComment(ctx, m, c, 1000); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(s.want, m.calls); diff != "" {
			t.Errorf("step %d calls (-want +got):\n%s", i, diff)
		}
	}
	if diff := cmp.Diff([]RemoteComment{{ID: 1, Body: "user"}, {ID: 2, Body: Marker("prod", 1) + "\nshort"}}, m.cs); diff != "" {
		t.Errorf("comments (-want +got):\n%s", diff)
	}
	if err := UpsertComment(ctx, m, Comment{Repo: "o/r", PR: 0, Key: "prod"}, 0); err == nil {
		t.Error("PR 0 accepted")
	}
}
