package reconciler

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/mooringhq/mooring/finding"
	"github.com/mooringhq/mooring/render"
)

// CodeNodeManifest is the info finding for an object of the revision that
// is a node's file, not an object for the API server: mooring reads it
// (the model takes the VIP from a kube-vip static Pod) and never applies,
// diffs or checks it in the cluster.
const CodeNodeManifest = "node-manifest-not-applied"

// localConfigAnnotation is kustomize's marker of an object that is not for
// the cluster; kustomize build drops such objects, and so does mooring for
// objects read from plain manifests.
const localConfigAnnotation = "config.kubernetes.io/local-config"

// nodeManifest reports whether o is meant for a node rather than for the
// API server: marked as local config, or a bare host-network Pod, which is
// what a static Pod manifest for /etc/kubernetes/manifests looks like
// (kube-vip, etcd, kube-apiserver). Sent to the API server, such a Pod
// would be scheduled on some node with the host's network and the
// capabilities it asks for (NET_ADMIN for kube-vip).
func nodeManifest(o render.Object) bool {
	u := o.Object
	if v := u.GetAnnotations()[localConfigAnnotation]; v != "" && v != "false" {
		return true
	}
	if u.GetAPIVersion() != "v1" || u.GetKind() != "Pod" {
		return false
	}
	host, _, _ := unstructured.NestedBool(u.Object, "spec", "hostNetwork")
	return host
}

// forCluster returns the objects of a revision that go to the API server:
// objs without the node manifests. It allocates only when it leaves
// something out.
func forCluster(objs []render.Object) []render.Object {
	for i, o := range objs {
		if !nodeManifest(o) {
			continue
		}
		out := append([]render.Object(nil), objs[:i]...)
		for _, o := range objs[i+1:] {
			if !nodeManifest(o) {
				out = append(out, o)
			}
		}
		return out
	}
	return objs
}

// nodeManifestFindings returns one info finding for each node manifest in
// objs, so a report says once that it was left out and why.
func nodeManifestFindings(objs []render.Object) []finding.Finding {
	var fs []finding.Finding
	for _, o := range objs {
		if !nodeManifest(o) {
			continue
		}
		fs = append(fs, finding.Finding{Severity: finding.Info, Code: CodeNodeManifest, File: o.File, Object: o.Ref(),
			Message: fmt.Sprintf("%s is a node's file (a static Pod for /etc/kubernetes/manifests, or marked %s): read, never applied to the cluster",
				o.Ref(), localConfigAnnotation)})
	}
	return fs
}
