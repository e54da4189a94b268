package main

import (
	"fmt"
	"net/netip"

	"github.com/spf13/cobra"

	"github.com/mooringhq/mooring/agentmanifest"
)

// init runs after agent.go's (the go command hands a package's files to the
// compiler sorted by name, and init functions run in that order), so the
// agent command exists to attach to.
func init() {
	o := agentmanifest.DefaultOptions()
	var vipText string
	cmd := &cobra.Command{
		Use:   "manifest",
		Short: "Print the agent's static Pod for /etc/kubernetes/manifests",
		Long: `manifest prints the static Pod that runs the VIP agent on one control-plane
node. Save it as /etc/kubernetes/manifests/mooring-agent.yaml on each of them
(the kubelet starts it before any API server is reachable, as it does
kube-vip's). The Pod uses the host network, adds only NET_ADMIN and NET_RAW,
is not privileged, and reads etcd's client certificate from kubeadm's
/etc/kubernetes/pki/etcd and, with --peers, the heartbeat key all nodes share
from --key-file (read only; create it once with openssl rand -hex 32 and copy
it to every control-plane node).

For a DaemonSet on control-plane nodes instead, see deploy/agent/daemonset.`,
		Example: `  mooring agent manifest --vip 192.168.1.10 --interface eth0 \
    --peers 192.168.1.12,192.168.1.13 > /etc/kubernetes/manifests/mooring-agent.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if vipText != "" {
				a, err := netip.ParseAddr(vipText)
				if err != nil {
					return exitCode(2, fmt.Errorf("--vip %q is not an IP address", vipText))
				}
				o.VIP = a.Unmap()
			}
			pod, err := agentmanifest.StaticPod(o)
			if err != nil {
				return exitCode(2, err)
			}
			if err := agentmanifest.Write(cmd.OutOrStdout(), pod); err != nil {
				return exitCode(2, err)
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&vipText, "vip", "", "the control-plane VIP (required)")
	fs.StringVar(&o.Interface, "interface", "", "host interface that carries the VIP (required)")
	fs.IntVar(&o.Port, "port", o.Port, "API server port behind the VIP")
	fs.StringVar(&o.Image, "image", o.Image, "the agent's container image")
	fs.StringSliceVar(&o.Peers, "peers", nil, "the other control-plane nodes' addresses, for fast heartbeats (recommended)")
	fs.StringVar(&o.KeyFile, "key-file", o.KeyFile, "host file with the heartbeat key every control-plane node shares (with --peers)")
	fs.StringSliceVar(&o.EtcdEndpoints, "etcd-endpoints", o.EtcdEndpoints, "this node's own etcd member")
	fs.StringVar(&o.EtcdPKIDir, "etcd-pki-dir", o.EtcdPKIDir, `host folder with etcd's ca.crt and healthcheck-client.crt/.key; "-" for a plain-HTTP etcd`)
	fs.StringVar(&o.Name, "name", o.Name, "the Pod's name (the kubelet appends the node's)")
	fs.StringVar(&o.Namespace, "namespace", o.Namespace, "the Pod's namespace")
	agentCommand().AddCommand(cmd)
}

// agentCommand returns `mooring agent`, which agent.go registers.
func agentCommand() *cobra.Command {
	for _, c := range rootCmd.Commands() {
		if c.Name() == "agent" {
			return c
		}
	}
	panic("mooring: the agent command is not registered before agent_manifest.go's init")
}
