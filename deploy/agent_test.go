package deploy_test

import (
	"bytes"
	"context"
	"net/netip"
	"os"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/mooringhq/mooring/agentmanifest"
)

// TestAgentStaticPod checks that deploy/agent/static-pod holds exactly what
// `mooring agent manifest` prints for the flags its header names, and that
// the API server accepts that Pod (a server-side dry run of its creation,
// with every validation and admission step a real create takes).
func TestAgentStaticPod(t *testing.T) {
	file, err := os.ReadFile("agent/static-pod/mooring-agent.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var body []string
	for _, line := range strings.SplitAfter(string(file), "\n") {
		if !strings.HasPrefix(line, "#") {
			body = append(body, line)
		}
	}
	// The header's command: --vip 192.0.2.10 --interface eth0 --peers 192.0.2.12,192.0.2.13
	pod, err := agentmanifest.StaticPod(agentmanifest.Options{
		VIP: netip.MustParseAddr("192.0.2.10"), Interface: "eth0", Peers: []string{"192.0.2.12", "192.0.2.13"},
	})
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	if err := agentmanifest.Write(&want, pod); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(body, ""); got != want.String() {
		t.Errorf("agent/static-pod/mooring-agent.yaml is not what `mooring agent manifest` prints; regenerate it.\n got:\n%s\nwant:\n%s", got, want.String())
	}

	var fromFile corev1.Pod
	if err := yaml.UnmarshalStrict([]byte(strings.Join(body, "")), &fromFile); err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(server.Config)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Pods(fromFile.Namespace).Create(context.Background(), &fromFile, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
		t.Fatalf("the API server refuses the agent's static Pod: %v", err)
	}
}
