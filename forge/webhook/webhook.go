// Package webhook receives push and pull request events from Git forges and
// turns them into Triggers. Every request is authenticated before its body
// is parsed: an HMAC-SHA256 signature (Gitea, GitHub, mooring's generic
// form) or a shared token (GitLab). A bad or missing signature gets 401 and
// triggers nothing; bodies above a size limit get 413; a delivery ID seen
// before is acknowledged and ignored, so a forge's redelivery does not run
// the pipeline twice.
package webhook

import (
	"container/list"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
)

// Trigger is a push or pull request event that should run mooring.
type Trigger struct {
	// Forge is "gitea", "github", "gitlab" or "generic".
	Forge string `json:"forge"`
	// Repo is the repository's full name ("owner/name"; GitLab: the
	// project's path with namespace).
	Repo string `json:"repo"`
	// Ref is the pushed ref (refs/heads/main) or the pull request's head
	// branch.
	Ref string `json:"ref"`
	// SHA is the commit to run on: the pushed head or the pull request's
	// head commit.
	SHA string `json:"sha"`
	// PR is the pull request (merge request IID) number; 0 for a push.
	PR int `json:"pr,omitempty"`
	// BaseRef and BaseSHA are the pull request's target branch and commit.
	BaseRef string `json:"baseRef,omitempty"`
	BaseSHA string `json:"baseSHA,omitempty"`
	// Event is "push" or "pull_request".
	Event string `json:"event"`
	// Action is the pull request action (opened, synchronized, ...).
	Action string `json:"action,omitempty"`
	// Delivery is the forge's delivery ID.
	Delivery string `json:"delivery,omitempty"`
}

// Header names of mooring's generic webhook form: the body is a Trigger in
// JSON, signed like GitHub's ("sha256=" and the hex HMAC-SHA256 of the body
// with the shared secret).
const (
	GenericSignatureHeader = "X-Mooring-Signature"
	GenericDeliveryHeader  = "X-Mooring-Delivery"
)

// Options configure a Receiver.
type Options struct {
	// Secret is the shared webhook secret (HMAC key, or GitLab's token).
	// Required: a Receiver with no secret refuses everything.
	Secret []byte
	// Trigger is called, on the request's goroutine, with each accepted
	// event; it should not block (send to a buffered channel).
	Trigger func(Trigger)
	// MaxBody is the largest body accepted, in bytes (default 5 MiB).
	MaxBody int64
	// Remember is how many delivery IDs are kept to drop duplicates
	// (default 1024).
	Remember int
	// Logger logs refusals (default slog.Default()).
	Logger *slog.Logger
}

// Receiver holds the webhook handlers of each forge and what they share:
// the secret, the callback and the delivery IDs seen.
type Receiver struct {
	o    Options
	mu   sync.Mutex
	seen map[string]*list.Element
	lru  *list.List
}

// New returns a Receiver.
func New(o Options) *Receiver {
	if o.MaxBody <= 0 {
		o.MaxBody = 5 << 20
	}
	if o.Remember <= 0 {
		o.Remember = 1024
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Trigger == nil {
		o.Trigger = func(Trigger) {}
	}
	return &Receiver{o: o, seen: map[string]*list.Element{}, lru: list.New()}
}

// Mux returns a handler serving /gitea, /github, /gitlab and /generic
// below prefix (e.g. "/hooks").
func (r *Receiver) Mux(prefix string) *http.ServeMux {
	m := http.NewServeMux()
	prefix = strings.TrimSuffix(prefix, "/")
	m.Handle("POST "+prefix+"/gitea", r.Gitea())
	m.Handle("POST "+prefix+"/github", r.GitHub())
	m.Handle("POST "+prefix+"/gitlab", r.GitLab())
	m.Handle("POST "+prefix+"/generic", r.Generic())
	return m
}

// verifier checks a request's authentication against its body.
type verifier func(h http.Header, body []byte) bool

// parser turns an authenticated body into a trigger; ok false means an
// event mooring does not act on.
type parser func(h http.Header, body []byte) (t Trigger, ok bool, err error)

func (r *Receiver) handler(forge, deliveryHeader string, verify verifier, parse parser) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodPost {
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, r.o.MaxBody))
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				r.o.Logger.Warn("webhook: body too large", "forge", forge, "limit", r.o.MaxBody)
				http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(w, "cannot read body", http.StatusBadRequest)
			return
		}
		if len(r.o.Secret) == 0 || !verify(req.Header, body) {
			r.o.Logger.Warn("webhook: bad or missing signature", "forge", forge, "remote", req.RemoteAddr)
			http.Error(w, "bad or missing signature", http.StatusUnauthorized)
			return
		}
		id := req.Header.Get(deliveryHeader)
		t, ok, err := parse(req.Header, body)
		if err != nil {
			r.o.Logger.Warn("webhook: bad payload", "forge", forge, "delivery", id, "err", err)
			http.Error(w, "bad payload: "+err.Error(), http.StatusBadRequest)
			return
		}
		if id != "" && r.seenBefore(forge+"/"+id) {
			w.WriteHeader(http.StatusOK)
			io.WriteString(w, "duplicate delivery ignored\n")
			return
		}
		if !ok {
			w.WriteHeader(http.StatusAccepted)
			io.WriteString(w, "event ignored\n")
			return
		}
		t.Forge, t.Delivery = forge, id
		r.o.Trigger(t)
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, "triggered\n")
	})
}

// seenBefore records id and reports whether it was already there; the
// oldest IDs are forgotten beyond Remember.
func (r *Receiver) seenBefore(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.seen[id]; ok {
		r.lru.MoveToFront(e)
		return true
	}
	r.seen[id] = r.lru.PushFront(id)
	for r.lru.Len() > r.o.Remember {
		old := r.lru.Back()
		r.lru.Remove(old)
		delete(r.seen, old.Value.(string))
	}
	return false
}

// hmacHex reports whether sig is the hex HMAC-SHA256 of body with secret,
// comparing in constant time.
func hmacHex(secret, body []byte, sig string) bool {
	want, err := hex.DecodeString(strings.TrimSpace(sig))
	if err != nil || len(want) != sha256.Size {
		return false
	}
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return hmac.Equal(m.Sum(nil), want)
}

// Sign returns "sha256=" and the hex HMAC-SHA256 of body: the value of
// GitHub's X-Hub-Signature-256 and mooring's X-Mooring-Signature.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Gitea returns the handler of Gitea's and Forgejo's webhooks
// (X-Gitea-Signature: hex HMAC-SHA256 of the body; X-Gitea-Event).
func (r *Receiver) Gitea() http.Handler {
	return r.handler("gitea", "X-Gitea-Delivery",
		func(h http.Header, body []byte) bool {
			sig := h.Get("X-Gitea-Signature")
			if sig == "" {
				sig = h.Get("X-Forgejo-Signature")
			}
			return hmacHex(r.o.Secret, body, sig)
		},
		func(h http.Header, body []byte) (Trigger, bool, error) {
			ev := h.Get("X-Gitea-Event")
			if ev == "" {
				ev = h.Get("X-Forgejo-Event")
			}
			return parseGitHubStyle(ev, body)
		})
}

// GitHub returns the handler of GitHub's webhooks (X-Hub-Signature-256:
// "sha256=" and the hex HMAC-SHA256 of the body; X-GitHub-Event).
func (r *Receiver) GitHub() http.Handler {
	return r.handler("github", "X-GitHub-Delivery",
		func(h http.Header, body []byte) bool {
			sig, ok := strings.CutPrefix(h.Get("X-Hub-Signature-256"), "sha256=")
			return ok && hmacHex(r.o.Secret, body, sig)
		},
		func(h http.Header, body []byte) (Trigger, bool, error) {
			return parseGitHubStyle(h.Get("X-GitHub-Event"), body)
		})
}

// GitLab returns the handler of GitLab's webhooks (X-Gitlab-Token: the
// shared secret itself, compared in constant time; X-Gitlab-Event).
func (r *Receiver) GitLab() http.Handler {
	return r.handler("gitlab", "X-Gitlab-Event-UUID",
		func(h http.Header, _ []byte) bool {
			got := []byte(h.Get("X-Gitlab-Token"))
			return len(got) > 0 && subtle.ConstantTimeCompare(got, r.o.Secret) == 1
		},
		func(h http.Header, body []byte) (Trigger, bool, error) {
			return parseGitLab(h.Get("X-Gitlab-Event"), body)
		})
}

// Generic returns the handler of mooring's generic form, for CI systems
// and scripts: the body is a Trigger in JSON, X-Mooring-Signature is
// "sha256=" and the hex HMAC-SHA256 of the body, X-Mooring-Delivery an
// optional unique ID.
func (r *Receiver) Generic() http.Handler {
	return r.handler("generic", GenericDeliveryHeader,
		func(h http.Header, body []byte) bool {
			sig, ok := strings.CutPrefix(h.Get(GenericSignatureHeader), "sha256=")
			return ok && hmacHex(r.o.Secret, body, sig)
		},
		func(_ http.Header, body []byte) (Trigger, bool, error) {
			var t Trigger
			if err := json.Unmarshal(body, &t); err != nil {
				return t, false, fmt.Errorf("trigger JSON: %w", err)
			}
			if t.Repo == "" || t.SHA == "" {
				return t, false, errors.New("trigger needs repo and sha")
			}
			if t.Event == "" {
				t.Event = "push"
				if t.PR > 0 {
					t.Event = "pull_request"
				}
			}
			return t, true, nil
		})
}
