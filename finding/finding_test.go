package finding

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestString(t *testing.T) {
	obj := Object{Kind: "IPAddressPool", Namespace: "metallb-system", Name: "a"}
	tests := []struct {
		name string
		f    Finding
		want string
	}{
		{"all facts", Finding{Severity: Error, Code: "pool-overlap", File: "pools/a.yaml", Object: obj, Field: "spec.addresses[0]", Expected: "x", Observed: "y", Message: "overlaps"},
			`error pool-overlap: IPAddressPool/metallb-system/a spec.addresses[0] (pools/a.yaml): overlaps [expected "x", observed "y"]`},
		{"observed only", Finding{Severity: Warning, Code: "c", Object: obj, Observed: "y", Message: "m"},
			`warning c: IPAddressPool/metallb-system/a: m [observed "y"]`},
		{"cluster-scoped, no facts", Finding{Code: "c", Object: Object{Kind: "ControlPlane", Name: "cp"}, Message: "m"},
			`info c: ControlPlane/cp: m`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.f.String(); got != tt.want {
				t.Errorf("String() =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestSortAndDescribe(t *testing.T) {
	fs := []Finding{
		{Severity: Info, Code: "i", File: "a"},
		{Severity: Warning, Code: "w", File: "b"},
		{Severity: Error, Code: "e2", File: "b"},
		{Severity: Error, Code: "e1", File: "a"},
	}
	Sort(fs)
	var got []string
	for _, f := range fs {
		got = append(got, f.Code)
	}
	if diff := cmp.Diff([]string{"e1", "e2", "w", "i"}, got); diff != "" {
		t.Errorf("Sort order (-want +got):\n%s", diff)
	}
	if d := Describe(fs); d != "2 errors, 1 warning, 1 info" {
		t.Errorf("Describe = %q", d)
	}
	if d := Describe(nil); d != "no findings" {
		t.Errorf("Describe(nil) = %q", d)
	}
}

func TestSeverityJSONRoundTrip(t *testing.T) {
	for _, s := range []Severity{Info, Warning, Error} {
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var back Severity
		if err := json.Unmarshal(b, &back); err != nil || back != s {
			t.Errorf("round trip of %v: got %v, %v (json %s)", s, back, err, b)
		}
	}
	var s Severity
	if err := s.UnmarshalText([]byte("fatal")); err == nil {
		t.Error("unknown severity accepted")
	}
}

func TestNewReport(t *testing.T) {
	start := time.Date(2026, 12, 2, 7, 0, 0, 0, time.UTC)
	empty := NewReport(KindDriftObjects, nil, start)
	b, err := json.Marshal(empty)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"kind":"drift-objects"`, `"state":"success"`, `"findings":[]`, `"summary":"no findings"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("empty report %s lacks %s", b, want)
		}
	}
	fs := []Finding{{Severity: Warning, Code: "b"}, {Severity: Error, Code: "a"}}
	r := NewReport(KindValidate, fs, start)
	if r.State != StateFailure || r.Findings[0].Code != "a" || r.Summary != "1 error, 1 warning" {
		t.Errorf("report of an error and a warning: %+v", r)
	}
	if fs[0].Code != "b" {
		t.Errorf("NewReport sorted the caller's slice")
	}
	r.Errored(errors.New("API server unreachable"))
	if r.State != StateError || r.Summary != "API server unreachable" {
		t.Errorf("errored: %s %q", r.State, r.Summary)
	}
	if err := r.Check(); err != nil {
		t.Errorf("Check of a report NewReport made: %v", err)
	}
	for _, bad := range []Report{{Kind: "drift objects", State: StateSuccess, Findings: []Finding{}}, {Kind: KindApply, Findings: []Finding{}}, {Kind: KindApply, State: StateSuccess}} {
		if err := bad.Check(); err == nil {
			t.Errorf("Check(%+v) = nil, want an error", bad)
		}
	}
}
