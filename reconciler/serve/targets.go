package serve

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/mooringhq/mooring/forge"
	"github.com/mooringhq/mooring/forge/forges"
	"github.com/mooringhq/mooring/reconciler"
	"github.com/mooringhq/mooring/sources"
)

// RESTConfigFor returns the client configuration of a cluster: from its
// kubeconfig (and context) when one is named, else the pod's service
// account.
func RESTConfigFor(c ClusterConfig) (*rest.Config, error) {
	if c.Kubeconfig == "" {
		cfg, err := rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("in-cluster config (set cluster.kubeconfig outside a pod): %w", err)
		}
		return cfg, nil
	}
	rules := &clientcmd.ClientConfigLoadingRules{ExplicitPath: c.Kubeconfig}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: c.Context}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", c.Kubeconfig, err)
	}
	return cfg, nil
}

// queueKey tells forges apart: targets on the same forge with the same
// token share one delivery queue and one flush loop.
type queueKey struct{ kind, url, tokenFile, dir string }

// built is what a configuration turns into before anything runs.
type built struct {
	targets []*target
	queues  map[queueKey]*forge.Queue
}

// build turns each target's configuration into the reconciler's Target and
// serve's own runtime state; p names fields in errors.
func (s *Server) build(cfg *Config) (*built, error) {
	b := &built{queues: map[queueKey]*forge.Queue{}}
	cacheDir := cfg.CacheDir
	if cacheDir == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			return nil, fmt.Errorf("cacheDir not set and no user cache folder: %w", err)
		}
		cacheDir = filepath.Join(dir, "mooring")
	}
	for i, tc := range cfg.Targets {
		where := fmt.Sprintf("targets[%d] (%s)", i, tc.Name)
		cluster, err := s.o.RESTConfig(tc.Cluster)
		if err != nil {
			return nil, fmt.Errorf("%s.cluster: %w", where, err)
		}
		rt := reconciler.Target{
			Name:   tc.Name,
			Repo:   tc.Repo,
			Branch: tc.Branch,
			Path:   tc.Path,
			Sources: sources.Options{
				CacheDir: filepath.Join(cacheDir, "git"),
				Auth:     sources.Auth{Username: tc.Auth.Username, PasswordFile: tc.Auth.PasswordFile},
				Timeout:  2 * time.Minute,
				Logger:   s.log,
			},
			RenderCacheDir: filepath.Join(cacheDir, "render"),
			Cluster:        cluster,
			NoPrune:        tc.Prune != nil && !*tc.Prune,
			ForceConflicts: tc.ForceConflicts,
		}
		if e := tc.Etcd; e != nil {
			rt.Etcd = &reconciler.EtcdOptions{Endpoints: e.Endpoints, CAFile: e.CAFile, CertFile: e.CertFile, KeyFile: e.KeyFile}
		}
		if tc.ARP != nil {
			rt.ARP = &reconciler.ARPOptions{Interface: tc.ARP.Interface}
		}
		if f := tc.Forge; f != nil {
			q, err := b.queue(s, *f, queueDir(tc.QueueDir, cacheDir))
			if err != nil {
				return nil, fmt.Errorf("%s.forge: %w", where, err)
			}
			rt.Forge, rt.ForgeRepo = q, f.Repo
			if f.Kind == "gitnotes" && f.Repo == "" {
				rt.ForgeRepo = "local/repository"
			}
		}
		t := &target{
			cfg:     tc,
			rt:      rt,
			lister:  newHeadLister(tc.Repo, tc.Branch, tc.Auth),
			sched:   newSchedule(),
			wake:    make(chan struct{}, 1),
			check:   make(chan struct{}, 1),
			pageDue: make(chan struct{}, 1),
		}
		if d := tc.Drift; d != nil {
			if t.cron, err = cronParser.Parse(d.Schedule); err != nil {
				return nil, fmt.Errorf("%s.drift.schedule: %w", where, err)
			}
			if t.loc, err = time.LoadLocation(d.TimeZone); err != nil {
				return nil, fmt.Errorf("%s.drift.timeZone: %w", where, err)
			}
		}
		if tc.WebhookSecretFile != "" {
			if t.secret, err = readSecret(tc.WebhookSecretFile); err != nil {
				return nil, fmt.Errorf("%s.webhookSecretFile: %w", where, err)
			}
		}
		if tc.Forge != nil {
			t.forgeKind = tc.Forge.Kind
			t.forgeRepo = tc.Forge.Repo
		}
		if t.forgeRepo == "" {
			t.forgeRepo = repoPath(tc.Repo)
		}
		b.targets = append(b.targets, t)
	}
	return b, nil
}

func queueDir(dir, cacheDir string) string {
	if dir != "" {
		return dir
	}
	return filepath.Join(cacheDir, "forge-queue")
}

// queue returns the delivery queue of forge f, making it the first time.
func (b *built) queue(s *Server, f ForgeConfig, dir string) (*forge.Queue, error) {
	key := queueKey{f.Kind, f.URL, f.TokenFile, dir}
	if q, ok := b.queues[key]; ok {
		return q, nil
	}
	r, tok, err := newReporter(f)
	if err != nil {
		return nil, err
	}
	// The same Target string as `mooring report`, so a delivery either
	// queued is flushed by both.
	q := forge.NewQueue(r, forge.QueueOptions{
		Dir: dir, Target: f.Kind + " " + f.URL, Forge: f.Kind, Secrets: []forge.Token{tok},
		Interval: s.o.FlushInterval, MaxBackoff: s.o.MaxBackoff, Retry: s.o.Retry, Now: s.clock.Now,
	})
	b.queues[key] = q
	s.metrics.watchQueue(f.Kind+" "+f.URL, q)
	return q, nil
}

// newReporter returns the client of one forge and its token.
func newReporter(f ForgeConfig) (forge.Reporter, forge.Token, error) {
	var tok forge.Token
	if f.TokenFile != "" {
		var err error
		if tok, err = forge.LoadToken(f.TokenFile, ""); err != nil {
			return nil, "", err
		}
	}
	r, err := forges.New(forges.Options{Kind: f.Kind, URL: f.URL, Token: tok})
	return r, tok, err
}

func readSecret(file string) ([]byte, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	b = []byte(strings.TrimRight(string(b), "\r\n"))
	if len(b) == 0 {
		return nil, fmt.Errorf("%s is empty", file)
	}
	return b, nil
}

// prRef is the ref holding a pull request's head on the forge itself, so
// a preview of a fork's branch can be fetched from the target's repo.
func prRef(forgeName string, pr int, headRef string) string {
	switch forgeName {
	case "gitea", "github", "forgejo":
		return "refs/pull/" + strconv.Itoa(pr) + "/head"
	case "gitlab":
		return "refs/merge-requests/" + strconv.Itoa(pr) + "/head"
	}
	return headRef
}

// cronSchedule is the part of robfig/cron serve uses: the next time a
// schedule fires after t.
type cronSchedule = cron.Schedule
