// Package render turns a repository tree and a Kustomize path into the
// rendered Kubernetes objects mooring validates, diffs and applies, each
// tagged with the repository file it came from.
//
// Rendering is offline and confined to the repository: Build refuses, before
// Kustomize runs, remote resources and bases, Helm chart inflation, plugins
// that execute programs, symlinks and paths that leave the repository, files
// over a size limit and trees with too many files. Every refusal names the
// kustomization file (or the link) and the entry at fault. Output is sorted so
// the same tree always gives the same bytes. Renderer caches results by the
// revision's tree hash, in memory and on disk.
package render
