// Package deploy holds the Kustomize manifests that run mooring in a
// cluster: serve/ (mooring serve with least-privilege RBAC) and agent/ (the
// VIP agent as a static Pod or a DaemonSet). It has no Go code; its tests
// render, validate and apply the manifests against a real API server, and
// reconcile the example repository with serve's own ServiceAccount.
package deploy
