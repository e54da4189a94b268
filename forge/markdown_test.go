package forge

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mooringhq/mooring/finding"
)

// TestCommentMarkdownLimits: a comment lists every error, and findings up
// to CommentFindings in all; the rest are counted by severity and code.
// Markdown (the CLI's -o markdown) lists everything.
func TestCommentMarkdownLimits(t *testing.T) {
	findings := func(errs, warns, infos int) []finding.Finding {
		var fs []finding.Finding
		add := func(n int, sev finding.Severity, code string) {
			for i := range n {
				fs = append(fs, finding.Finding{Severity: sev, Code: code, Object: finding.Object{Kind: "Ingress", Name: fmt.Sprintf("%s-%04d", code, i)}, Message: "m"})
			}
		}
		add(errs, finding.Error, "pool-overlap")
		add(warns, finding.Warning, "ingress-backend-missing")
		add(infos, finding.Info, "site-missing")
		return fs
	}
	rows := func(md string) (errs, others int) {
		for _, l := range strings.Split(md, "\n") {
			switch {
			case strings.HasPrefix(l, "| error |"):
				errs++
			case strings.HasPrefix(l, "| warning |"), strings.HasPrefix(l, "| info |"):
				others++
			}
		}
		return errs, others
	}
	for _, tc := range []struct {
		name                 string
		errs, warns, infos   int
		wantErrs, wantOthers int
		wantRest             string
	}{
		{"few findings: all listed", 1, 2, 1, 1, 3, ""},
		{"many warnings: capped", 3, 2000, 5, 3, CommentFindings - 3, "1958 more findings not listed: 1953 warnings `ingress-backend-missing`, 5 info `site-missing`."},
		{"more errors than the cap: every error, nothing else", CommentFindings + 10, 7, 0, CommentFindings + 10, 0, "7 more findings not listed: 7 warnings `ingress-backend-missing`."},
		{"exactly the cap: all listed", 0, CommentFindings, 0, 0, CommentFindings, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := finding.NewReport(finding.KindPreview, findings(tc.errs, tc.warns, tc.infos), time.Time{})
			md := CommentMarkdown(r)
			if e, o := rows(md); e != tc.wantErrs || o != tc.wantOthers {
				t.Errorf("comment lists %d errors and %d others, want %d and %d", e, o, tc.wantErrs, tc.wantOthers)
			}
			if tc.wantRest == "" && strings.Contains(md, "not listed") || tc.wantRest != "" && !strings.Contains(md, tc.wantRest) {
				t.Errorf("comment's count of the rest: want %q in\n%s", tc.wantRest, md[max(0, len(md)-400):])
			}
			if e, o := rows(Markdown(r)); e != tc.errs || o != tc.warns+tc.infos {
				t.Errorf("Markdown lists %d errors and %d others, want all %d and %d", e, o, tc.errs, tc.warns+tc.infos)
			}
		})
	}
}
