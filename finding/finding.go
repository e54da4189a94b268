// Package finding holds mooring's one result type. Validation, object drift,
// etcd checks and ARP checks all return Findings, so that one report, one
// commit status and one exit code serve them all.
package finding

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Severity ranks a Finding. The zero value is Info.
type Severity int

const (
	// Info is a fact worth showing that needs no action.
	Info Severity = iota
	// Warning is a fact that is probably wrong but does not block an apply.
	Warning
	// Error blocks an apply and fails the commit status.
	Error
)

// String returns "info", "warning" or "error".
func (s Severity) String() string {
	switch s {
	case Warning:
		return "warning"
	case Error:
		return "error"
	default:
		return "info"
	}
}

// MarshalText implements encoding.TextMarshaler so JSON reports carry words.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Severity) UnmarshalText(b []byte) error {
	switch strings.ToLower(string(b)) {
	case "info", "":
		*s = Info
	case "warning":
		*s = Warning
	case "error":
		*s = Error
	default:
		return fmt.Errorf("unknown severity %q", b)
	}
	return nil
}

// Object names a Kubernetes object (or a non-Kubernetes subject such as an
// etcd member or an IP address, with Kind set accordingly).
type Object struct {
	APIVersion string `json:"apiVersion,omitempty"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
}

// String returns kind/namespace/name, or kind/name for cluster-scoped objects.
func (o Object) String() string {
	if o.Namespace == "" {
		return o.Kind + "/" + o.Name
	}
	return o.Kind + "/" + o.Namespace + "/" + o.Name
}

// Finding is one fact about desired versus observed state.
type Finding struct {
	// Severity ranks the finding.
	Severity Severity `json:"severity"`
	// Code is a stable, kebab-case identifier (e.g. "pool-overlap") that
	// tools and users can filter on; it never changes once released.
	Code string `json:"code"`
	// File is the path in the repository the object came from, if known.
	File string `json:"file,omitempty"`
	// Object is the subject of the finding.
	Object Object `json:"object"`
	// Field is the field path within the object (e.g. "spec.addresses[1]").
	Field string `json:"field,omitempty"`
	// Expected is what the repository (desired state) says.
	Expected string `json:"expected,omitempty"`
	// Observed is what was found instead.
	Observed string `json:"observed,omitempty"`
	// Message explains the finding in one sentence.
	Message string `json:"message"`
}

// String renders a finding on one line, as the CLI prints it.
func (f Finding) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %s", f.Severity, f.Code, f.Object)
	if f.Field != "" {
		fmt.Fprintf(&b, " %s", f.Field)
	}
	if f.File != "" {
		fmt.Fprintf(&b, " (%s)", f.File)
	}
	fmt.Fprintf(&b, ": %s", f.Message)
	var facts []string
	if f.Expected != "" {
		facts = append(facts, fmt.Sprintf("expected %q", f.Expected))
	}
	if f.Observed != "" {
		facts = append(facts, fmt.Sprintf("observed %q", f.Observed))
	}
	if len(facts) > 0 {
		fmt.Fprintf(&b, " [%s]", strings.Join(facts, ", "))
	}
	return b.String()
}

// Sort orders findings by severity (errors first), then file, object, field
// and code, so reports and golden files are deterministic.
func Sort(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if a.Severity != b.Severity {
			return a.Severity > b.Severity
		}
		if a.File != b.File {
			return a.File < b.File
		}
		if as, bs := a.Object.String(), b.Object.String(); as != bs {
			return as < bs
		}
		if a.Field != b.Field {
			return a.Field < b.Field
		}
		if a.Code != b.Code {
			return a.Code < b.Code
		}
		return a.Message < b.Message
	})
}

// Count returns how many findings have each severity.
func Count(fs []Finding) (errors, warnings, infos int) {
	for _, f := range fs {
		switch f.Severity {
		case Error:
			errors++
		case Warning:
			warnings++
		default:
			infos++
		}
	}
	return errors, warnings, infos
}

// The kinds of report. Every command's -o json carries one, so a report
// read back (by `mooring report`, or a CI script) says what produced it.
const (
	KindValidate     = "validate"
	KindDiff         = "diff"
	KindApply        = "apply"
	KindDrift        = "drift" // a reconcile's drift stage: objects, etcd and ARP together
	KindDriftObjects = "drift-objects"
	KindDriftEtcd    = "drift-etcd"
	KindDriftARP     = "drift-arp"
	KindPreview      = "preview"
)

// Kinds lists every kind of report, in pipeline order.
var Kinds = []string{KindValidate, KindDiff, KindPreview, KindApply, KindDrift, KindDriftObjects, KindDriftEtcd, KindDriftARP}

// The states of a report, named as forges name commit status states.
const (
	// StateSuccess: the run completed with no error finding.
	StateSuccess = "success"
	// StateFailure: the run completed and found errors.
	StateFailure = "failure"
	// StateError: the run could not complete (the summary says why).
	StateError = "error"
)

// Report is the findings of one run for one revision, with timings. Build
// one with NewReport, so that every report has its findings sorted (never
// null in JSON), a state and a summary.
type Report struct {
	// Kind names the run: one of the Kind* constants.
	Kind string `json:"kind"`
	// State is StateSuccess, StateFailure or StateError.
	State string `json:"state"`
	// Repo is the repository URL or path the revision came from.
	Repo string `json:"repo,omitempty"`
	// Ref is the ref the user asked for (branch, tag, PR ref, SHA).
	Ref string `json:"ref,omitempty"`
	// Commit is the full commit SHA of the revision.
	Commit string `json:"commit,omitempty"`
	// Path is the Kustomize path that was rendered.
	Path string `json:"path,omitempty"`
	// Findings are sorted with Sort.
	Findings []Finding `json:"findings"`
	// Started and Duration time the run.
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"duration"`
	// Summary is a short human line, e.g. "3 objects would change"; by
	// default the counts of the findings.
	Summary string `json:"summary"`
	// Body is an optional longer text (a rendered diff, in markdown).
	Body string `json:"body,omitempty"`
}

// NewReport returns the report of a run of kind that found fs and started
// at started: findings sorted and never nil, State failure when one is an
// error (else success), Summary their counts. Callers add the revision,
// Duration, and a more telling Summary or Body where they have one.
func NewReport(kind string, fs []Finding, started time.Time) Report {
	fs = append([]Finding{}, fs...)
	Sort(fs)
	r := Report{Kind: kind, Findings: fs, Started: started, Summary: Describe(fs), State: StateSuccess}
	if r.Failed() {
		r.State = StateFailure
	}
	return r
}

// Errored marks the report as a run that could not complete because of
// err: State error, and err's text in the summary.
func (r *Report) Errored(err error) {
	r.State = StateError
	if r.Summary == "" || r.Summary == Describe(r.Findings) {
		r.Summary = err.Error()
		return
	}
	r.Summary += "; " + err.Error()
}

// Check returns an error unless r is a report mooring wrote: a known kind
// and state. It says what it expected, for readers of JSON from elsewhere.
func (r Report) Check() error {
	known := false
	for _, k := range Kinds {
		known = known || r.Kind == k
	}
	if !known {
		return fmt.Errorf("kind %q is not a mooring report kind (want one of %s)", r.Kind, strings.Join(Kinds, ", "))
	}
	switch r.State {
	case StateSuccess, StateFailure, StateError:
	default:
		return fmt.Errorf("state %q is not a mooring report state (want %s, %s or %s)", r.State, StateSuccess, StateFailure, StateError)
	}
	if r.Findings == nil {
		return fmt.Errorf("no findings list (want \"findings\": [] at least)")
	}
	return nil
}

// Failed reports whether any finding is an error.
func (r Report) Failed() bool {
	e, _, _ := Count(r.Findings)
	return e > 0
}

// Describe returns a one-line summary with counts, e.g.
// "2 errors, 1 warning", or "no findings".
func Describe(fs []Finding) string {
	e, w, i := Count(fs)
	var parts []string
	add := func(n int, word string) {
		if n == 0 {
			return
		}
		if n != 1 {
			word += "s"
		}
		parts = append(parts, fmt.Sprintf("%d %s", n, word))
	}
	add(e, "error")
	add(w, "warning")
	add(i, "info")
	if len(parts) == 0 {
		return "no findings"
	}
	return strings.Join(parts, ", ")
}
