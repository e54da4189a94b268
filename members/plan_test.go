package members_test

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	etcd "github.com/mooringhq/mooring/drift/etcd"
	"github.com/mooringhq/mooring/members"
	"github.com/mooringhq/mooring/render/model"
)

var update = flag.Bool("update", false, "rewrite testdata/plans with the planner's output")

// TestPlan runs testdata/plans/*.txt. Each file is one case:
//
//	# why this case matters (prose, one or more lines)
//	declared
//	NAME PEER-URL
//	observed
//	ID NAME PEER-URL [leader] [learner] [unreachable] [unhealthy] [index=N]
//	----
//	the plan, or "refused (reason): detail"
//
// A NAME of "-" is a member added but never started.
func TestPlan(t *testing.T) {
	files, err := filepath.Glob("testdata/plans/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			input, want, ok := strings.Cut(string(raw), "----\n")
			if !ok {
				t.Fatalf("%s: no ---- line", file)
			}
			declared, obs, err := parseCase(input)
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			got := run(declared, obs)
			if *update {
				if err := os.WriteFile(file, []byte(input+"----\n"+got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s (-want +got):\n%s", file, diff)
			}
		})
	}
}

func run(declared []model.Member, obs etcd.Observation) string {
	plan, err := members.Plan(declared, obs)
	if err != nil {
		var re *members.RefusedError
		if !errors.As(err, &re) {
			return "error: " + err.Error() + "\n"
		}
		return fmt.Sprintf("refused (%s): %s\n", re.Reason, re.Detail)
	}
	return plan.String()
}

func parseCase(input string) ([]model.Member, etcd.Observation, error) {
	var (
		declared []model.Member
		obs      etcd.Observation
		section  string
		leader   uint64
	)
	type flags struct {
		id                uint64
		unreachable, sick bool
		index             uint64
	}
	var probes []flags
	for n, line := range strings.Split(input, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if line == "declared" || line == "observed" {
			section = line
			if line == "observed" {
				obs.Members = []etcd.Member{}
			}
			continue
		}
		f := strings.Fields(line)
		switch section {
		case "declared":
			if len(f) != 2 {
				return nil, obs, fmt.Errorf("line %d: want NAME PEER-URL", n+1)
			}
			declared = append(declared, model.Member{Name: f[0], PeerURL: f[1]})
		case "observed":
			if len(f) < 3 {
				return nil, obs, fmt.Errorf("line %d: want ID NAME PEER-URL [flags]", n+1)
			}
			id, err := strconv.ParseUint(f[0], 10, 64)
			if err != nil {
				return nil, obs, fmt.Errorf("line %d: %v", n+1, err)
			}
			m := etcd.Member{ID: id, Name: f[1], PeerURLs: []string{f[2]}}
			if m.Name == "-" {
				m.Name = ""
			}
			p := flags{id: id, index: 100}
			for _, fl := range f[3:] {
				switch {
				case fl == "leader":
					leader = id
				case fl == "learner":
					m.IsLearner = true
				case fl == "unreachable":
					p.unreachable = true
				case fl == "unhealthy":
					p.sick = true
				case strings.HasPrefix(fl, "index="):
					p.index, err = strconv.ParseUint(strings.TrimPrefix(fl, "index="), 10, 64)
					if err != nil {
						return nil, obs, fmt.Errorf("line %d: %v", n+1, err)
					}
				default:
					return nil, obs, fmt.Errorf("line %d: unknown flag %q", n+1, fl)
				}
			}
			if !m.Started() {
				p.unreachable = true
			}
			obs.Members = append(obs.Members, m)
			probes = append(probes, p)
		default:
			return nil, obs, fmt.Errorf("line %d: outside declared/observed", n+1)
		}
	}
	for _, p := range probes {
		if p.unreachable {
			continue
		}
		obs.Probes = append(obs.Probes, etcd.Probe{
			Endpoint: fmt.Sprintf("member-%d", p.id), MemberID: p.id, Healthy: !p.sick,
			Status: &etcd.Status{Leader: leader, RaftTerm: 2, RaftIndex: p.index},
		})
	}
	return declared, obs, nil
}
