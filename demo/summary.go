package demo

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"
)

// stay keeps everything running until ctx ends, and says where to look.
func (d *live) stay(ctx context.Context) {
	fmt.Fprintf(d.w, "\nEverything keeps running (Ctrl-C ends it and cleans up):\n")
	if d.gitea != nil {
		fmt.Fprintf(d.w, "  Gitea        %s/%s  (user %s, password %s)\n", d.gitea.URL, d.forge, d.gitea.User, d.gitea.Password)
		fmt.Fprintf(d.w, "  push to it   git clone %s\n", d.gitea.CloneURL(d.forge))
	}
	if d.serve != nil {
		fmt.Fprintf(d.w, "  status page  %s/targets/homelab\n", d.serve.URL)
		fmt.Fprintf(d.w, "  serve        %s/api/v1/status  (metrics: %s/metrics)\n", d.serve.URL, d.serve.URL)
	}
	if d.api != nil {
		fmt.Fprintf(d.w, "  cluster      KUBECONFIG=%s kubectl get ipaddresspools -A\n", d.api.Kubeconfig)
	}
	<-ctx.Done()
}

// summary prints every step with its state and time, the figures, and
// every status Gitea holds for the demo's commits.
func (d *live) summary() {
	fmt.Fprintf(d.w, "\n== Summary\n")
	tw := tabwriter.NewWriter(d.w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "step\tstate\ttime\t\n")
	for i, s := range d.sum.Steps {
		took := s.Took.Round(time.Millisecond).String()
		if s.State == StateSkipped {
			took = "-"
		}
		fmt.Fprintf(tw, "%d. %s\t%s\t%s\t\n", i+1, s.Title, s.State, took)
	}
	tw.Flush()
	for _, t := range d.sum.Timings {
		fmt.Fprintf(d.w, "%s\n", t)
	}
	if d.gitea == nil || len(d.commits) == 0 {
		return
	}
	fmt.Fprintf(d.w, "\nStatuses as Gitea shows them (%s/%s/commits):\n", d.gitea.URL, d.forge)
	for _, c := range d.commits {
		sts, err := d.statuses(context.Background(), c.sha)
		if err != nil {
			fmt.Fprintf(d.w, "  %s %s: %v\n", shortSHA(c.sha), c.title, err)
			continue
		}
		fmt.Fprintf(d.w, "  %s %s\n", shortSHA(c.sha), c.title)
		for _, s := range sts {
			fmt.Fprintf(d.w, "      %-17s %-8s %s\n", s.Context, s.Status, s.Description)
		}
	}
}
