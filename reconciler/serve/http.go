package serve

import (
	"crypto/subtle"
	"encoding/json"
	"io"
	"net/http"
	"strings"

	"github.com/mooringhq/mooring/forge/webhook"
	"github.com/mooringhq/mooring/reconciler"
)

// Handler returns serve's HTTP API:
//
//	POST /hooks/FORGE                     webhooks of every target (defaults.webhookSecretFile)
//	POST /hooks/TARGET/FORGE              webhooks of one target (its webhookSecretFile)
//	POST /api/v1/targets/TARGET/reconcile the manual trigger (bearer apiTokenFile)
//	GET  /api/v1/status                   the Store's Snapshot as JSON
//	GET  /metrics                         Prometheus metrics
//	GET  /healthz, /readyz                liveness and readiness
//	GET  /, /targets/TARGET, /events      the status page (statuspage)
//
// FORGE is gitea (also Forgejo), github, gitlab or generic.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	if s.global != nil {
		mux.Handle("/hooks/", s.global)
	}
	for _, t := range s.targets {
		if t.hooks != nil {
			mux.Handle("/hooks/"+t.cfg.Name+"/", t.hooks)
		}
	}
	mux.HandleFunc("POST /api/v1/targets/{target}/reconcile", s.manual)
	mux.HandleFunc("GET /api/v1/status", s.status)
	mux.Handle("GET /metrics", s.metrics.handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	mux.Handle("/", s.page)
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !s.ready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok\n")
	})
	return mux
}

// receivers builds the webhook handlers: one per target with a secret, and
// a shared one when the defaults name a secret.
func (s *Server) receivers(cfg *Config) error {
	if cfg.Defaults.WebhookSecretFile != "" {
		secret, err := readSecret(cfg.Defaults.WebhookSecretFile)
		if err != nil {
			return err
		}
		recv := webhook.New(webhook.Options{Secret: secret, Logger: s.log, Trigger: func(wt webhook.Trigger) { s.dispatch(wt, nil) }})
		s.global = s.countWebhooks(recv.Mux("/hooks"))
	}
	for _, t := range s.targets {
		if t.secret == nil {
			continue
		}
		recv := webhook.New(webhook.Options{Secret: t.secret, Logger: s.log.With("target", t.cfg.Name), Trigger: func(wt webhook.Trigger) { s.dispatch(wt, t) }})
		t.hooks = s.countWebhooks(recv.Mux("/hooks/" + t.cfg.Name))
	}
	return nil
}

// countWebhooks counts deliveries by the receiver's answer.
func (s *Server) countWebhooks(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		h.ServeHTTP(rw, r)
		s.metrics.webhooks.WithLabelValues(webhookResult(rw.code)).Inc()
	})
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) { w.code = code; w.ResponseWriter.WriteHeader(code) }

// dispatch turns a webhook event into triggers: of only, when the hook was
// one target's, else of every target on the event's repository. A push
// counts for a target on the pushed branch; a pull request for a target on
// its base branch.
func (s *Server) dispatch(wt webhook.Trigger, only *target) {
	now := s.clock.Now()
	matched := false
	for _, t := range s.targets {
		if only != nil && t != only {
			continue
		}
		if only == nil && !strings.EqualFold(wt.Repo, t.forgeRepo) {
			continue
		}
		branch := "refs/heads/" + t.cfg.Branch
		var trig reconciler.Trigger
		switch {
		case wt.Event == "push" && wt.Ref == branch:
			trig = reconciler.Trigger{Kind: reconciler.Push, SHA: wt.SHA, Delivery: wt.Delivery, At: now}
		case wt.Event == "pull_request" && wt.BaseRef == branch && wt.PR > 0:
			trig = reconciler.Trigger{Kind: reconciler.PullRequest, SHA: wt.SHA, Ref: prRef(wt.Forge, wt.PR, wt.Ref), PR: wt.PR,
				BaseRef: wt.BaseRef, BaseSHA: wt.BaseSHA, Delivery: wt.Delivery, At: now}
		default:
			continue
		}
		matched = true
		d := s.submit(t, trig)
		s.log.Info("serve: webhook", "target", t.cfg.Name, "event", wt.Event, "sha", wt.SHA, "pr", wt.PR, "delivery", wt.Delivery, "decision", d)
	}
	if !matched {
		s.log.Info("serve: webhook for no target", "repo", wt.Repo, "ref", wt.Ref, "event", wt.Event)
		s.metrics.webhooks.WithLabelValues("no_target").Inc()
	}
}

// ManualRequest is the optional body of the manual trigger.
type ManualRequest struct {
	// SHA is the commit to reconcile; "" is the branch head.
	SHA string `json:"sha,omitempty"`
}

// ManualResponse answers the manual trigger.
type ManualResponse struct {
	// Target and Trigger say what was asked for.
	Target  string             `json:"target"`
	Trigger reconciler.Trigger `json:"trigger"`
	// Decision is what the schedule did (queued, coalesced), or
	// "handed-over" when another replica leads.
	Decision Decision `json:"decision"`
	// Leader says whether this replica leads; only then does its status API
	// show the run.
	Leader bool `json:"leader"`
}

func (s *Server) manual(w http.ResponseWriter, r *http.Request) {
	if s.apiToken == nil {
		http.Error(w, "the manual trigger is off: set apiTokenFile in the serve configuration", http.StatusForbidden)
		return
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || subtle.ConstantTimeCompare([]byte(tok), s.apiToken) != 1 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="mooring"`)
		http.Error(w, "bad or missing bearer token", http.StatusUnauthorized)
		return
	}
	t, ok := s.byName[r.PathValue("target")]
	if !ok {
		http.Error(w, "no target "+r.PathValue("target"), http.StatusNotFound)
		return
	}
	var req ManualRequest
	body, err := io.ReadAll(io.LimitReader(r.Body, 4096))
	if err == nil && len(strings.TrimSpace(string(body))) > 0 {
		err = json.Unmarshal(body, &req)
	}
	if err != nil {
		http.Error(w, "bad request body: "+err.Error(), http.StatusBadRequest)
		return
	}
	if req.SHA != "" && !fullSHA(req.SHA) {
		http.Error(w, "sha must be a full commit SHA", http.StatusBadRequest)
		return
	}
	trig := reconciler.Trigger{Kind: reconciler.Manual, SHA: req.SHA, Delivery: "manual-" + randomID(), At: s.clock.Now()}
	d := s.submit(t, trig)
	writeJSON(w, http.StatusAccepted, ManualResponse{Target: t.cfg.Name, Trigger: trig, Decision: d, Leader: s.elect == nil || s.store.leading()})
}

func fullSHA(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	return strings.Trim(s, "0123456789abcdef") == ""
}

func (s *Server) status(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.store.Snapshot())
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}
