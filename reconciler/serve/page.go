package serve

import (
	"context"
	"strings"
	"time"

	"github.com/mooringhq/mooring/render/model"
	"github.com/mooringhq/mooring/statuspage"
	"github.com/mooringhq/mooring/statuspage/live"
)

// liveModeler is what a Pipeline that remembers the live revision's model
// offers; *reconciler.Reconciler does, so the status page renders nothing.
type liveModeler interface {
	LiveModel(target string) (string, *model.Model)
}

// pageObserveTimeout bounds what a page refresh reads of the cluster.
const pageObserveTimeout = 5 * time.Second

// newPages makes the status page: one page per target, empty until its
// first run.
func (s *Server) newPages() {
	s.pageStore = &statuspage.Store{}
	for _, t := range s.targets {
		s.pageStore.Put(statuspage.Build(s.pageInput(t, nil)))
	}
	s.page = statuspage.NewHandler(s.pageStore, statuspage.Options{Logger: s.log})
}

// pageInput is what t's page is made of: its runs, the live model and
// what was observed of its cluster.
func (s *Server) pageInput(t *target, runs []TargetStatus) statuspage.Input {
	in := statuspage.Input{Name: t.cfg.Name, Repo: t.cfg.Repo, Branch: t.cfg.Branch, Path: t.cfg.Path, CommitURL: commitURL(t.cfg.Forge, t.forgeRepo)}
	for _, ts := range runs {
		if ts.Name == t.cfg.Name {
			in.Runs = ts.History
		}
	}
	return in
}

// refreshPage rebuilds t's page after a run: the Store's history, the
// live revision's model and, when the target reaches a cluster, its
// LoadBalancer Services, etcd members and (with ARP settings) who answers
// for the VIP. What cannot be read is logged and left off the page.
func (s *Server) refreshPage(ctx context.Context, t *target) {
	in := s.pageInput(t, s.store.Snapshot().Targets)
	if lm, ok := s.p.(liveModeler); ok {
		_, in.Model = lm.LiveModel(t.cfg.Name)
	}
	if in.Model != nil && t.rt.Cluster != nil {
		obs, err := live.Observe(ctx, in.Model, live.Options{Cluster: t.rt.Cluster, Etcd: t.rt.Etcd, ARP: t.rt.ARP, Timeout: pageObserveTimeout})
		if err != nil {
			s.log.Warn("serve: status page: observe", "target", t.cfg.Name, "err", err)
		}
		in.Observed = obs
	}
	s.pageStore.Put(statuspage.Build(in))
}

// commitURL links commits to the forge's page of them; nil without a forge
// that has commit pages.
func commitURL(f *ForgeConfig, repo string) func(string) string {
	if f == nil || repo == "" {
		return nil
	}
	base := strings.TrimSuffix(f.URL, "/")
	path := "/commit/"
	switch f.Kind {
	case "gitea", "forgejo":
	case "github":
		base = strings.TrimSuffix(base, "/api/v3")
		if base == "" || base == "https://api.github.com" {
			base = "https://github.com"
		}
	case "gitlab":
		path = "/-/commit/"
	default:
		return nil
	}
	if base == "" {
		return nil
	}
	return func(sha string) string { return base + "/" + repo + path + sha }
}
