package forge

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/mooringhq/mooring/manifest"
)

// markerPrefix starts the hidden HTML comment that tags mooring's comments.
const markerPrefix = "<!-- mooring:preview:"

// Marker returns the hidden marker of part n (1-based) of the comment with
// key: `<!-- mooring:preview:KEY -->` for the first part and
// `<!-- mooring:preview:KEY:part:N -->` for the others.
func Marker(key string, n int) string {
	if n <= 1 {
		return markerPrefix + key + " -->"
	}
	return markerPrefix + key + ":part:" + strconv.Itoa(n) + " -->"
}

// parseMarker returns the key and part number of a body that starts with a
// marker; ok is false for any other body (including quotes of a marker).
func parseMarker(body string) (key string, part int, ok bool) {
	body = strings.TrimLeft(body, " \t\r\n")
	if !strings.HasPrefix(body, markerPrefix) {
		return "", 0, false
	}
	rest := body[len(markerPrefix):]
	end := strings.Index(rest, " -->")
	if end < 0 {
		return "", 0, false
	}
	key, n, found := strings.Cut(rest[:end], ":part:")
	if !found {
		return key, 1, validKey(key)
	}
	part, err := strconv.Atoi(n)
	if err != nil || part < 2 {
		return "", 0, false
	}
	return key, part, validKey(key)
}

// RemoteComment is a comment as a forge lists it.
type RemoteComment struct {
	ID   int64
	Body string
}

// CommentStore is the comment half of a forge's API, as UpsertComment needs
// it. Implementations return errors from CheckResponse so retries can tell
// transient failures apart.
type CommentStore interface {
	// ListComments returns every comment of the pull request, oldest first.
	ListComments(ctx context.Context, repo string, pr int) ([]RemoteComment, error)
	// CreateComment adds a comment to the pull request.
	CreateComment(ctx context.Context, repo string, pr int, body string) error
	// EditComment replaces the body of comment id.
	EditComment(ctx context.Context, repo string, pr int, id int64, body string) error
	// DeleteComment removes comment id.
	DeleteComment(ctx context.Context, repo string, pr int, id int64) error
}

// UpsertComment makes the pull request carry c.Body as mooring's comment for
// c.Key: it edits the existing comment in place, splits a body longer than
// limit characters across numbered comments, and deletes parts (and any
// duplicates) no longer needed. Secret data in the body is masked first.
func UpsertComment(ctx context.Context, s CommentStore, c Comment, limit int) error {
	if err := c.Validate(); err != nil {
		return err
	}
	parts := Split(c.Key, manifest.MaskSecretsText(c.Body), limit)
	existing, err := s.ListComments(ctx, c.Repo, c.PR)
	if err != nil {
		return fmt.Errorf("list comments of %s#%d: %w", c.Repo, c.PR, err)
	}
	byPart := map[int]RemoteComment{}
	var surplus []RemoteComment
	for _, rc := range existing {
		key, n, ok := parseMarker(rc.Body)
		if !ok || key != c.Key {
			continue
		}
		if _, dup := byPart[n]; dup || n > len(parts) {
			surplus = append(surplus, rc)
			continue
		}
		byPart[n] = rc
	}
	for i, body := range parts {
		rc, ok := byPart[i+1]
		switch {
		case !ok:
			err = s.CreateComment(ctx, c.Repo, c.PR, body)
		case normalize(rc.Body) != normalize(body):
			err = s.EditComment(ctx, c.Repo, c.PR, rc.ID, body)
		}
		if err != nil {
			return fmt.Errorf("comment %d/%d on %s#%d: %w", i+1, len(parts), c.Repo, c.PR, err)
		}
	}
	sort.Slice(surplus, func(i, j int) bool { return surplus[i].ID < surplus[j].ID })
	for _, rc := range surplus {
		if err := s.DeleteComment(ctx, c.Repo, c.PR, rc.ID); err != nil {
			return fmt.Errorf("delete surplus comment %d on %s#%d: %w", rc.ID, c.Repo, c.PR, err)
		}
	}
	return nil
}

// normalize ignores the line-ending and trailing-space changes forges make
// when they store a body.
func normalize(s string) string {
	return strings.TrimSpace(strings.ReplaceAll(s, "\r\n", "\n"))
}

// Split cuts body into comment bodies of at most limit characters each,
// each starting with its marker; parts after the first say which part they
// are. It cuts at line ends where it can and closes and reopens a code fence
// cut in two. limit <= 0 means no limit.
func Split(key, body string, limit int) []string {
	one := Marker(key, 1) + "\n" + body
	if limit <= 0 || utf8.RuneCountInString(one) <= limit {
		return []string{one}
	}
	// Room for the marker, a "part i of n" line and a closing fence.
	const reserve = 160
	budget := limit - reserve - len(key)
	if budget < 200 {
		budget = 200
	}
	var chunks []string
	var cur strings.Builder
	curLen := 0
	fresh := true // nothing but a reopened fence in cur
	fence := ""
	flush := func() {
		if fence != "" {
			cur.WriteString("```\n")
		}
		chunks = append(chunks, cur.String())
		cur.Reset()
		curLen = 0
		fresh = true
		if fence != "" {
			cur.WriteString(fence + "\n")
			curLen = utf8.RuneCountInString(fence) + 1
		}
	}
	for _, line := range strings.SplitAfter(body, "\n") {
		for utf8.RuneCountInString(line) > budget-curLen {
			if !fresh && utf8.RuneCountInString(line) <= budget {
				flush()
				continue
			}
			// A single line longer than a part: cut it.
			r := []rune(line)
			room := budget - curLen
			if room <= 0 {
				flush()
				continue
			}
			cur.WriteString(string(r[:room]) + "\n")
			curLen += room
			fresh = false
			line = string(r[room:])
			flush()
		}
		cur.WriteString(line)
		curLen += utf8.RuneCountInString(line)
		fresh = false
		if t := strings.TrimSpace(line); strings.HasPrefix(t, "```") {
			if fence == "" {
				fence = t
			} else if t == "```" {
				fence = ""
			}
		}
	}
	if !fresh || len(chunks) == 0 {
		fence = ""
		flush()
	}
	out := make([]string, len(chunks))
	for i, ch := range chunks {
		head := Marker(key, i+1) + "\n"
		if i > 0 {
			head += fmt.Sprintf("*(part %d of %d)*\n\n", i+1, len(chunks))
		}
		out[i] = head + ch
	}
	return out
}
