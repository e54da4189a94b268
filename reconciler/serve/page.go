package serve

import (
	"context"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation/field"

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

// StatusPageConfig guards the status page: basic auth, a bearer token, or
// either.
type StatusPageConfig struct {
	// Username and PasswordFile (holding the password) require HTTP basic
	// auth, which browsers ask for.
	Username     string `json:"username,omitempty"`
	PasswordFile string `json:"passwordFile,omitempty"`
	// TokenFile holds a bearer token the page accepts, for scripts.
	TokenFile string `json:"tokenFile,omitempty"`
}

func (c *StatusPageConfig) validate(p *field.Path, fileExists func(*field.Path, string) field.ErrorList) field.ErrorList {
	if c == nil {
		return nil
	}
	var errs field.ErrorList
	switch {
	case c.Username == "" && c.PasswordFile == "" && c.TokenFile == "":
		errs = append(errs, field.Required(p, "username and passwordFile, or tokenFile (or leave statusPage out)"))
	case c.Username != "" && c.PasswordFile == "":
		errs = append(errs, field.Required(p.Child("passwordFile"), "the password of username"))
	case c.Username == "" && c.PasswordFile != "":
		errs = append(errs, field.Required(p.Child("username"), "the user of passwordFile"))
	}
	errs = append(errs, fileExists(p.Child("passwordFile"), c.PasswordFile)...)
	return append(errs, fileExists(p.Child("tokenFile"), c.TokenFile)...)
}

// newPages makes the status page: one page per target, empty until its
// first run, behind the credentials cfg names.
func (s *Server) newPages(cfg *StatusPageConfig) error {
	opts := statuspage.Options{Logger: s.log}
	if cfg != nil {
		opts.Username = cfg.Username
		for _, f := range []struct {
			file string
			into *string
		}{{cfg.PasswordFile, &opts.Password}, {cfg.TokenFile, &opts.Token}} {
			if f.file == "" {
				continue
			}
			b, err := readSecret(f.file)
			if err != nil {
				return err
			}
			*f.into = string(b)
		}
	}
	s.pageStore = &statuspage.Store{}
	for _, t := range s.targets {
		s.pageStore.Put(statuspage.Build(s.pageInput(t, nil)))
	}
	s.page = statuspage.NewHandler(s.pageStore, opts)
	return nil
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

// refreshPages rebuilds t's page each time a run ends (t.pageDue), until
// ctx ends. Runs that end during a refresh are shown by one more refresh.
func (s *Server) refreshPages(ctx context.Context, t *target) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.pageDue:
			s.refreshPage(ctx, t)
		}
	}
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
