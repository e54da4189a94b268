package statuspage

import (
	"cmp"
	"fmt"
	"math"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/mooringhq/mooring/drift/etcd"
	"github.com/mooringhq/mooring/finding"
	"github.com/mooringhq/mooring/quorum"
	"github.com/mooringhq/mooring/reconciler"
	"github.com/mooringhq/mooring/render/model"
	"github.com/mooringhq/mooring/vip/neigh"
)

// HistoryLimit is how many runs the history shows.
const HistoryLimit = 50

// Input is what Build makes a page of. Every field but Name is optional: a
// page shows what it is given and says what is unknown.
type Input struct {
	// Name is the target's name.
	Name string
	// Repo, Branch and Path are the target's repository (credentials in a
	// URL are dropped), branch and Kustomize path.
	Repo, Branch, Path string
	// CommitURL returns the forge's page of a commit; nil: commits are not
	// linked.
	CommitURL func(sha string) string
	// Model is the network model of the live revision; nil: the pools,
	// advertisements, control plane and routes sections are empty.
	Model *model.Model
	// Runs are the target's recent runs in any order; the newest run that
	// is not a pull request preview gives the stages and findings, and the
	// newest per pull request its preview.
	Runs []reconciler.Result
	// PullRequests are the open pull requests; nil: every pull request
	// that has a preview run is shown.
	PullRequests []PullRequest
	// Observed is what was seen of the live cluster.
	Observed Observed
}

// PullRequest is an open pull request.
type PullRequest struct {
	// Number is the pull request's number; Title its title.
	Number int
	Title  string
	// URL links to the preview comment, or the pull request.
	URL string
}

// Observed is live state, as plain values, so that callers choose how it is
// read and tests write it by hand.
type Observed struct {
	// Services are the live LoadBalancer Services holding addresses (see
	// model.LiveServiceFrom); nil: not observed (the page then shows the
	// addresses the revision's Services request).
	Services []model.LiveService
	// Etcd is the last observation of the etcd cluster; nil: not asked.
	Etcd *etcd.Observation
	// ARP maps each address asked about (VIP, node addresses, LB IPs,
	// free pool addresses) to the MACs that answered (see drift/arp and
	// vip/neigh); nil: nobody was asked.
	ARP neigh.Owners
	// NodeMACs names the nodes of MACs ("aa:bb:..." → node). The MAC that
	// alone answers for a control-plane member's address is known without it.
	NodeMACs map[string]string
}

// Build makes a target's page from its inputs. It is pure, and its output
// depends only on in.
func Build(in Input) Target {
	t := Target{Name: in.Name, Repo: RedactURL(in.Repo), Branch: in.Branch, Path: in.Path}
	runs := sortedRuns(in.Runs)
	var last *reconciler.Result
	for i := range runs {
		if runs[i].Trigger.Kind != reconciler.PullRequest {
			last = &runs[i]
			break
		}
	}
	if last != nil {
		t.Live = liveCommit(runs, last.LiveCommit, in.CommitURL)
		t.Stages = Stages(*last)
		t.Err = last.Err
		t.Findings = Findings(last.Reports)
		t.Updated = last.Started.Add(last.Duration)
		t.LastRun = History([]reconciler.Result{*last}, in.CommitURL)[0]
		var all []finding.Finding
		for _, r := range last.Reports {
			all = append(all, r.Findings...)
		}
		t.FindingsSummary = finding.Describe(all)
	}
	for _, f := range t.Findings {
		switch f.Severity {
		case "error":
			t.Errors++
		case "warning":
			t.Warnings++
		default:
			t.Infos++
		}
	}
	t.History = History(runs, in.CommitURL)
	t.Previews = Previews(runs, in.PullRequests)
	if in.Model != nil {
		nodes := nodeMACs(in.Model, in.Observed)
		t.Pools = Pools(in.Model, in.Observed, nodes)
		t.Advertisements = Advertisements(in.Model)
		t.ControlPlane = ControlPlaneOf(in.Model, in.Observed, nodes)
		t.Routes = Routes(in.Model, in.Observed)
		t.Classes = Classes(in.Model, t.Routes)
	}
	if e := in.Observed.Etcd; e != nil && e.Started.Add(e.Took).After(t.Updated) {
		t.Updated = e.Started.Add(e.Took)
	}
	return t
}

// sortedRuns returns runs newest first (by start, then commit for ties).
func sortedRuns(runs []reconciler.Result) []reconciler.Result {
	out := slices.Clone(runs)
	slices.SortStableFunc(out, func(a, b reconciler.Result) int {
		if c := b.Started.Compare(a.Started); c != 0 {
			return c
		}
		return cmp.Compare(a.Commit, b.Commit)
	})
	return out
}

// liveCommit describes the live commit with what the newest run that
// applied it (or ran on it) knows.
func liveCommit(runs []reconciler.Result, sha string, link func(string) string) Commit {
	if sha == "" {
		return Commit{}
	}
	c := Commit{SHA: sha, Short: short(sha)}
	if link != nil {
		c.URL = link(sha)
	}
	for _, r := range runs {
		if r.Commit != sha {
			continue
		}
		if c.Message == "" {
			c.Message, c.Author = firstLine(r.Message), r.Author
		}
		if r.Applied {
			c.Message, c.Author = firstLine(r.Message), r.Author
			c.Applied, c.Took = r.Started.Add(r.Duration), r.Duration
			break
		}
	}
	return c
}

// Stages returns the state of each stage of a run. A reconcile shows
// validate, apply and drift; a preview shows preview. A stage's reports are
// those of its kind and its parts ("drift-etcd" is part of drift); its
// state is the worst of theirs. A stage without a report did not run: it is
// "error" when the run stopped there, else "skipped".
func Stages(r reconciler.Result) []Stage {
	names := []reconciler.Stage{reconciler.StageValidate, reconciler.StageApply, reconciler.StageDrift}
	if r.Trigger.Kind == reconciler.PullRequest {
		names = []reconciler.Stage{reconciler.StagePreview}
	}
	var out []Stage
	stopped := false
	for _, n := range names {
		s := Stage{Name: string(n), Context: "mooring/" + string(n), State: StateSkipped}
		var summaries []string
		for _, rep := range r.Reports {
			if rep.Kind != string(n) && !strings.HasPrefix(rep.Kind, string(n)+"-") {
				continue
			}
			st := StateSuccess
			switch {
			case rep.State == finding.StateError:
				st = StateError
			case rep.Failed() || rep.State == finding.StateFailure:
				st = StateFailure
			}
			if s.State == StateSkipped || rank(st) > rank(s.State) {
				s.State = st
			}
			sum := rep.Summary
			if sum == "" {
				sum = finding.Describe(rep.Findings)
			}
			if rep.Kind != string(n) {
				sum = strings.TrimPrefix(rep.Kind, string(n)+"-") + ": " + sum
			}
			summaries = append(summaries, sum)
		}
		s.Summary = strings.Join(summaries, "; ")
		switch {
		case s.State != StateSkipped:
		case r.Err != "" && !stopped:
			s.State, s.Summary, stopped = StateError, "did not complete", true
		case n == reconciler.StageApply && r.Refused:
			s.Summary = "refused: error findings"
		}
		out = append(out, s)
	}
	return out
}

// rank orders states from best to worst.
func rank(s State) int {
	switch s {
	case StateSuccess:
		return 1
	case StateFailure:
		return 2
	case StateError:
		return 3
	}
	return 0
}

// Findings flattens reports into the page's findings, errors first.
// Expected and observed values of Secrets are hidden.
func Findings(reports []finding.Report) []Finding {
	type tagged struct {
		f     finding.Finding
		stage string
	}
	var all []tagged
	for _, r := range reports {
		for _, f := range r.Findings {
			all = append(all, tagged{f, r.Kind})
		}
	}
	// finding.Sort's order (errors first, then file, object, field, code),
	// then the stage, so a finding keeps its stage beside it.
	slices.SortStableFunc(all, func(a, b tagged) int {
		return cmp.Or(cmp.Compare(b.f.Severity, a.f.Severity), cmp.Compare(a.f.File, b.f.File),
			cmp.Compare(a.f.Object.String(), b.f.Object.String()), cmp.Compare(a.f.Field, b.f.Field),
			cmp.Compare(a.f.Code, b.f.Code), cmp.Compare(a.f.Message, b.f.Message), cmp.Compare(a.stage, b.stage))
	})
	out := make([]Finding, 0, len(all))
	for i, t := range all {
		f := t.f
		if i > 0 && all[i-1].f == f {
			// The same fact from two stages (validate and drift both
			// check a revision's model): one row naming both.
			out[len(out)-1].Stage += ", " + t.stage
			continue
		}
		pf := Finding{
			Severity: f.Severity.String(), Code: f.Code, Stage: t.stage, Object: f.Object.String(),
			File: f.File, Field: f.Field, Expected: f.Expected, Observed: f.Observed, Message: f.Message,
		}
		if f.Object.Kind == "Secret" {
			pf.Expected, pf.Observed = hideValue(f.Expected), hideValue(f.Observed)
		}
		out = append(out, pf)
	}
	return out
}

func hideValue(v string) string {
	if v == "" {
		return ""
	}
	return "(hidden)"
}

// History returns up to HistoryLimit runs, newest first (runs must be
// sorted so).
func History(runs []reconciler.Result, link func(string) string) []Run {
	var out []Run
	for _, r := range runs {
		if len(out) == HistoryLimit {
			break
		}
		run := Run{Trigger: string(r.Trigger.Kind), Commit: r.Commit, Short: short(r.Commit), Started: r.Started, Took: r.Duration}
		if r.Trigger.PR > 0 {
			run.Trigger = fmt.Sprintf("%s #%d", r.Trigger.Kind, r.Trigger.PR)
		}
		if link != nil && r.Commit != "" {
			run.URL = link(r.Commit)
		}
		run.State, run.Result = Outcome(r)
		out = append(out, run)
	}
	return out
}

// Outcome says how a run ended: error when it could not complete, failure
// when it was refused or found errors, else success; and in words.
func Outcome(r reconciler.Result) (State, string) {
	var fs []finding.Finding
	failed, errored := false, ""
	for _, rep := range r.Reports {
		fs = append(fs, rep.Findings...)
		failed = failed || rep.Failed()
		if rep.State == finding.StateError && errored == "" {
			errored = rep.Kind + ": " + rep.Summary
		}
	}
	described := finding.Describe(fs)
	switch {
	case r.Err != "":
		return StateError, "error: " + firstLine(r.Err)
	case errored != "":
		return StateError, "error: " + firstLine(errored)
	case r.Refused:
		return StateFailure, "refused: " + described
	case r.Applied && failed:
		return StateFailure, "applied; " + described
	case r.Applied:
		return StateSuccess, "applied"
	case failed:
		return StateFailure, described
	default:
		return StateSuccess, described
	}
}

// Previews returns the newest preview of each pull request, by number.
// With prs non-nil, only those pull requests are shown, with their titles
// and links.
func Previews(runs []reconciler.Result, prs []PullRequest) []Preview {
	open := map[int]PullRequest{}
	for _, p := range prs {
		open[p.Number] = p
	}
	seen := map[int]bool{}
	var out []Preview
	for _, r := range runs {
		n := r.Trigger.PR
		if r.Trigger.Kind != reconciler.PullRequest || n <= 0 || seen[n] {
			continue
		}
		seen[n] = true
		pr, ok := open[n]
		if prs != nil && !ok {
			continue
		}
		state, summary := Outcome(r)
		if i := slices.IndexFunc(r.Reports, func(rep finding.Report) bool { return rep.Kind == string(reconciler.StagePreview) }); i >= 0 && state == StateSuccess && r.Reports[i].Summary != "" {
			summary = r.Reports[i].Summary
		}
		out = append(out, Preview{PR: n, Title: pr.Title, Head: short(r.Commit), State: state, Summary: summary, URL: pr.URL})
	}
	for _, p := range prs {
		if !seen[p.Number] {
			out = append(out, Preview{PR: p.Number, Title: p.Title, State: StatePending, Summary: "no preview yet", URL: p.URL})
		}
	}
	slices.SortFunc(out, func(a, b Preview) int { return a.PR - b.PR })
	return out
}

// nodeMACs names the MACs of nodes: those given, and the MAC that alone
// answered for a control-plane member's address.
func nodeMACs(m *model.Model, obs Observed) map[string]string {
	nodes := map[string]string{}
	if m.ControlPlane != nil {
		for _, mem := range m.ControlPlane.Members {
			if macs := obs.ARP[mem.Address]; len(macs) == 1 && mem.Name != "" {
				nodes[macs[0]] = mem.Name
			}
		}
	}
	for mac, n := range obs.NodeMACs {
		nodes[strings.ToLower(mac)] = n
	}
	return nodes
}

func owners(macs []string, nodes map[string]string) []Owner {
	if macs == nil {
		return nil
	}
	out := make([]Owner, len(macs))
	for i, m := range macs {
		out[i] = Owner{MAC: m, Node: nodes[strings.ToLower(m)]}
	}
	slices.SortFunc(out, func(a, b Owner) int { return cmp.Compare(a.MAC, b.MAC) })
	return out
}

// holder is a Service holding an address.
type holder struct {
	service   string
	requested bool
}

// holders maps addresses to the Services holding them: the live ones when
// observed, else those the revision's Services request.
func holders(m *model.Model, obs Observed) map[netip.Addr][]holder {
	out := map[netip.Addr][]holder{}
	if obs.Services != nil {
		for _, s := range obs.Services {
			for _, ip := range s.IPs {
				out[ip.Unmap()] = append(out[ip.Unmap()], holder{service: s.Key()})
			}
		}
	} else {
		for _, s := range m.LoadBalancers {
			for _, ip := range s.IPs {
				out[ip.Unmap()] = append(out[ip.Unmap()], holder{service: s.Object.Namespace + "/" + s.Object.Name, requested: true})
			}
		}
	}
	for a, hs := range out {
		slices.SortFunc(hs, func(x, y holder) int { return cmp.Compare(x.service, y.service) })
		out[a] = slices.Compact(hs)
	}
	return out
}

// Pools returns each pool with its size and the addresses in use: held by
// Services (live when observed) or answered for by somebody on the wire.
func Pools(m *model.Model, obs Observed, nodes map[string]string) []Pool {
	held := holders(m, obs)
	var out []Pool
	for _, p := range m.Pools {
		pool := Pool{Namespace: p.Object.Namespace, Name: p.Object.Name, File: p.File, AutoAssign: p.AutoAssign}
		pool.Size = p.Assignable()
		for i, r := range p.Ranges {
			if r.IsValid() {
				pool.Ranges = append(pool.Ranges, r.String())
			} else if i < len(p.Addresses) {
				pool.Ranges = append(pool.Ranges, p.Addresses[i]+" (invalid)")
			}
		}
		in := func(a netip.Addr) bool {
			return slices.ContainsFunc(p.Ranges, func(r model.Range) bool { return r.Contains(a) })
		}
		var addrs []netip.Addr
		for a := range held {
			if in(a) {
				addrs = append(addrs, a)
			}
		}
		for a, macs := range obs.ARP {
			if len(macs) > 0 && held[a] == nil && in(a) && !(p.AvoidBuggyIPs && model.Buggy(a)) {
				addrs = append(addrs, a)
			}
		}
		slices.SortFunc(addrs, netip.Addr.Compare)
		addrs = slices.Compact(addrs)
		for _, a := range addrs {
			hs := held[a]
			macs, asked := obs.ARP[a]
			addr := Address{Addr: a.String()}
			if asked {
				addr.Asked, addr.Owners = true, owners(macs, nodes)
			}
			if len(hs) == 0 {
				addr.Unexpected = len(macs) > 0
				pool.Addresses = append(pool.Addresses, addr)
				pool.Unexpected++
				continue
			}
			pool.Used++
			names := make([]string, len(hs))
			for i, h := range hs {
				names[i] = h.service
				addr.Requested = addr.Requested || h.requested
			}
			addr.Service = strings.Join(names, ", ")
			addr.Unexpected = len(macs) > 1
			if addr.Unexpected {
				pool.Unexpected++
			}
			pool.Addresses = append(pool.Addresses, addr)
		}
		pool.Free = pool.Size - min(pool.Used, pool.Size)
		pool.SizeText = sizeText(pool.Size)
		pool.UsedPercent = percent(pool.Used, pool.Size)
		out = append(out, pool)
	}
	slices.SortStableFunc(out, func(a, b Pool) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	return out
}

func sizeText(n uint64) string {
	if n == math.MaxUint64 {
		return "2^64 or more"
	}
	return fmt.Sprint(n)
}

// percent is used/size rounded up, so any use shows at least 1%.
func percent(used, size uint64) int {
	if size == 0 || used == 0 {
		return 0
	}
	if used >= size {
		return 100
	}
	p := int(math.Ceil(float64(used) * 100 / float64(size)))
	return min(max(p, 1), 100)
}

// Advertisements returns the L2Advertisements and what they announce where.
func Advertisements(m *model.Model) []Advertisement {
	var out []Advertisement
	for _, a := range m.L2Advertisements {
		ad := Advertisement{Namespace: a.Object.Namespace, Name: a.Object.Name, File: a.File,
			Pools: slices.Clone(a.Pools), Interfaces: slices.Clone(a.Interfaces)}
		for _, s := range a.PoolSelectors {
			ad.Pools = append(ad.Pools, "selector: "+selector(s))
		}
		ad.AllPools = len(ad.Pools) == 0
		for _, s := range a.NodeSelectors {
			ad.Nodes = append(ad.Nodes, selector(s))
		}
		out = append(out, ad)
	}
	slices.SortStableFunc(out, func(a, b Advertisement) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	return out
}

func selector(s metav1.LabelSelector) string {
	t := metav1.FormatLabelSelector(&s)
	if t == "" || t == "<none>" {
		return "everything"
	}
	return t
}

// ControlPlaneOf returns the VIP and its owners, the etcd members and the
// quorum margin; nil when the revision declares neither a ControlPlane nor
// a kube-vip manifest.
func ControlPlaneOf(m *model.Model, obs Observed, nodes map[string]string) *ControlPlane {
	var vip model.VIP
	var declared []model.Member
	switch {
	case m.ControlPlane != nil:
		vip, declared = m.ControlPlane.VIP, m.ControlPlane.Members
	case m.KubeVIP != nil:
		vip = m.KubeVIP.VIP
	default:
		return nil
	}
	cp := &ControlPlane{Port: vip.Port, Interface: vip.Interface, VIPState: "unknown"}
	if vip.Address.IsValid() {
		cp.VIP = vip.Address.String()
		if macs, ok := obs.ARP[vip.Address]; ok {
			cp.VIPAsked = true
			cp.VIPOwners = owners(macs, nodes)
			switch len(macs) {
			case 0:
				cp.VIPState = "none"
			case 1:
				cp.VIPState = "ok"
			default:
				cp.VIPState = "duplicate"
			}
		}
	}
	cp.Members = members(declared, obs.Etcd)
	if o := obs.Etcd; o != nil {
		cp.Observed, cp.ObservedAt = true, o.Started
		cp.Voters, cp.HealthyVoters = len(o.Voters()), o.HealthyVoters()
		if o.Members == nil {
			// Nobody answered: the declared members are the voters.
			cp.Voters = len(declared)
		}
		cp.Quorum = quorum.Majority(cp.Voters)
		cp.CanLose = max(cp.HealthyVoters-cp.Quorum, 0)
		cp.QuorumState = quorum.Check(cp.Voters, cp.HealthyVoters).String()
	}
	return cp
}

// members pairs the declared members with the observed ones (by peer URL,
// then name, as drift/etcd does): declared members first, in Git's order,
// then the undeclared ones by name.
func members(declared []model.Member, o *etcd.Observation) []Member {
	out := make([]Member, len(declared))
	for i, d := range declared {
		out[i] = Member{Name: d.Name, Declared: true, Health: "unknown"}
		if d.Address.IsValid() {
			out[i].Address = d.Address.String()
		}
		if d.PeerURL != "" {
			out[i].PeerURLs = []string{d.PeerURL}
		}
		if d.ClientURL != "" {
			out[i].ClientURLs = []string{d.ClientURL}
		}
	}
	if o == nil {
		return out
	}
	leader := o.Leader()
	fill := func(mem *Member, m etcd.Member) {
		mem.Present, mem.ID = true, fmt.Sprintf("%x", m.ID)
		if m.Name != "" {
			mem.Name = m.Name
		}
		mem.PeerURLs, mem.ClientURLs = slices.Clone(m.PeerURLs), slices.Clone(m.ClientURLs)
		mem.Learner, mem.Leader = m.IsLearner, m.ID == leader && leader != 0
		mem.Health = o.Health(m.ID).String()
		if p := o.Probe(m.ID); p != nil {
			mem.Err = p.Err
			if p.Status != nil {
				mem.RaftIndex, mem.DBSize = p.Status.RaftIndex, bytesText(p.Status.DBSize)
			}
		}
	}
	for i := range out {
		out[i].Health = "unreachable"
	}
	mt := etcd.Match(declared, o.Members)
	for _, p := range mt.Pairs {
		fill(&out[p.Declared], p.Member)
	}
	for _, i := range mt.Missing {
		out[i].Err = "not in the cluster's member list"
	}
	extra := make([]Member, len(mt.Undeclared))
	for i, m := range mt.Undeclared {
		fill(&extra[i], m)
	}
	slices.SortFunc(extra, func(a, b Member) int { return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID)) })
	return append(out, extra...)
}

func bytesText(n int64) string {
	switch {
	case n <= 0:
		return ""
	case n < 1000:
		return fmt.Sprintf("%d B", n)
	case n < 1000*1000:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	case n < 1000*1000*1000:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	default:
		return fmt.Sprintf("%.1f GB", float64(n)/1e9)
	}
}

// Routes returns every Ingress host and path with the addresses of the
// controller serving its class, sorted by host, path and Ingress.
func Routes(m *model.Model, obs Observed) []Route {
	addrs := classAddresses(m, obs)
	var out []Route
	for _, in := range m.Ingresses {
		class := in.Class
		if class == "" {
			class = defaultClass(m)
		}
		tls := map[string]string{}
		for _, t := range in.TLS {
			for _, h := range t.Hosts {
				if _, ok := tls[h]; !ok {
					tls[h] = t.SecretName
				}
			}
		}
		id := in.Object.Namespace + "/" + in.Object.Name
		add := func(host, path, backend string) {
			out = append(out, Route{Host: host, Path: path, Ingress: id, Class: class, Backend: backend,
				TLSSecret: tls[host], Addresses: addrs[class]})
		}
		for _, r := range in.Routes {
			backend := r.Service
			if r.Port != "" {
				backend += ":" + r.Port
			}
			add(r.Host, r.Path, backend)
		}
		if in.DefaultBackend != "" {
			add("*", "(default)", in.DefaultBackend)
		}
	}
	slices.SortStableFunc(out, func(a, b Route) int {
		return cmp.Or(cmp.Compare(a.Host, b.Host), cmp.Compare(a.Path, b.Path), cmp.Compare(a.Ingress, b.Ingress))
	})
	return out
}

// Classes returns the ingress classes the revision declares or routes use,
// by name, with their controller's addresses and how many routes each has.
func Classes(m *model.Model, routes []Route) []Class {
	byName := map[string]*Class{}
	var out []*Class
	get := func(name string) *Class {
		if c := byName[name]; c != nil {
			return c
		}
		c := &Class{Name: name}
		byName[name] = c
		out = append(out, c)
		return c
	}
	for _, ic := range m.IngressClasses {
		c := get(ic.Object.Name)
		c.Controller, c.Default = ic.Controller, ic.Default
	}
	for _, r := range routes {
		c := get(r.Class)
		c.Routes++
		if c.Addresses == nil {
			c.Addresses = r.Addresses
		}
	}
	slices.SortFunc(out, func(a, b *Class) int { return cmp.Compare(a.Name, b.Name) })
	res := make([]Class, len(out))
	for i, c := range out {
		res[i] = *c
	}
	return res
}

func defaultClass(m *model.Model) string {
	for _, c := range m.IngressClasses {
		if c.Default {
			return c.Object.Name
		}
	}
	return ""
}

// classAddresses maps ingress classes to their controller's LoadBalancer
// addresses. The controller's Service is found as ingress-nginx's chart
// labels it: app.kubernetes.io/component "controller" and the same
// app.kubernetes.io/name (and instance, when both have one) as the class.
func classAddresses(m *model.Model, obs Observed) map[string][]string {
	const nameLabel, instanceLabel, componentLabel = "app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/component"
	live := map[string][]netip.Addr{}
	for _, s := range obs.Services {
		live[s.Key()] = s.IPs
	}
	out := map[string][]string{}
	for _, c := range m.IngressClasses {
		name := c.Labels[nameLabel]
		if name == "" {
			continue
		}
		for _, s := range m.LoadBalancers {
			if s.Labels[componentLabel] != "controller" || s.Labels[nameLabel] != name ||
				(c.Labels[instanceLabel] != "" && s.Labels[instanceLabel] != "" && c.Labels[instanceLabel] != s.Labels[instanceLabel]) {
				continue
			}
			ips := s.IPs
			if obs.Services != nil {
				ips = live[s.Object.Namespace+"/"+s.Object.Name]
			}
			for _, ip := range ips {
				out[c.Object.Name] = append(out[c.Object.Name], ip.String())
			}
		}
		slices.Sort(out[c.Object.Name])
		out[c.Object.Name] = slices.Compact(out[c.Object.Name])
	}
	return out
}

// RedactURL drops the user information (a token or password) from a
// repository URL; other strings are returned unchanged.
func RedactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	u.User = nil
	return u.String()
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(s)
}

// Age formats how long ago t was, relative to now, for people: "12s ago",
// "5m ago", "3h ago", "2d ago".
func Age(now, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := now.Sub(t)
	switch {
	case d < 0:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	default:
		return fmt.Sprintf("%dd ago", int(d.Hours()/24))
	}
}
