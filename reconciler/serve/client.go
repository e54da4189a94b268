package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"k8s.io/utils/clock"

	"github.com/mooringhq/mooring/reconciler"
)

// Client asks a running `mooring serve` for a reconcile, as
// `mooring reconcile --server URL TARGET` does.
type Client struct {
	// Server is serve's base URL, e.g. http://mooring.mooring-system:8080.
	Server string
	// Token is the bearer token of serve's apiTokenFile.
	Token string
	// HTTP sends the requests. Default: a client with a 30s timeout.
	HTTP *http.Client
	// Clock paces Wait. Default: the real clock.
	Clock clock.Clock
	// PollInterval is how often Wait reads the status. Default 500ms.
	PollInterval time.Duration
}

// ErrHandedOver is returned by Wait when the replica that answered does
// not lead: it handed the trigger to the leader, whose status API (not
// this one) will show the run.
var ErrHandedOver = errors.New("the replica that answered handed the trigger to the leader; its run shows in the leader's status")

// Reconcile asks serve to reconcile target: the branch head, or sha when
// it is not empty.
func (c *Client) Reconcile(ctx context.Context, target, sha string) (*ManualResponse, error) {
	body, err := json.Marshal(ManualRequest{SHA: sha})
	if err != nil {
		return nil, err
	}
	u := strings.TrimSuffix(c.Server, "/") + "/api/v1/targets/" + url.PathEscape(target) + "/reconcile"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("reconcile %s: %w", target, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	var out ManualResponse
	if err := c.do(req, http.StatusAccepted, &out); err != nil {
		return nil, fmt.Errorf("reconcile %s: %w", target, err)
	}
	return &out, nil
}

// Status reads serve's status snapshot.
func (c *Client) Status(ctx context.Context) (*Snapshot, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(c.Server, "/")+"/api/v1/status", nil)
	if err != nil {
		return nil, err
	}
	var out Snapshot
	if err := c.do(req, http.StatusOK, &out); err != nil {
		return nil, fmt.Errorf("status: %w", err)
	}
	return &out, nil
}

// Wait returns the result of the accepted trigger's run or, when it was
// coalesced into another, of the first branch run of its target that
// started after it: that run fetched the head the trigger asked for, or a
// newer one.
func (c *Client) Wait(ctx context.Context, accepted *ManualResponse) (*reconciler.Result, error) {
	if !accepted.Leader {
		return nil, ErrHandedOver
	}
	clk := c.Clock
	if clk == nil {
		clk = clock.RealClock{}
	}
	every := c.PollInterval
	if every <= 0 {
		every = 500 * time.Millisecond
	}
	for {
		snap, err := c.Status(ctx)
		if err != nil {
			return nil, err
		}
		for _, t := range snap.Targets {
			if t.Name != accepted.Target {
				continue
			}
			// History is newest first: the oldest matching run is the answer.
			for i := len(t.History) - 1; i >= 0; i-- {
				r := t.History[i]
				if r.Trigger.Delivery == accepted.Trigger.Delivery ||
					branchKind(r.Trigger.Kind) && r.Started.After(accepted.Trigger.At) &&
						(accepted.Trigger.SHA == "" || r.Commit == accepted.Trigger.SHA) {
					return &r, nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-clk.After(every):
		}
	}
}

func branchKind(k reconciler.TriggerKind) bool {
	return k == reconciler.Push || k == reconciler.Poll || k == reconciler.Manual
}

func (c *Client) do(req *http.Request, want int, out any) error {
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: HTTP %d: %s", req.Method, req.URL.Redacted(), resp.StatusCode, strings.TrimSpace(string(b)))
	}
	return json.Unmarshal(b, out)
}
