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
//
// Kustomize's cost grows with the square of the object count; a tree whose
// kustomizations change objects one by one is therefore built in shards of
// about fifty objects, each by Kustomize itself, in parallel, and merged
// (shard.go says when that is the same as one build, and falls back to one
// build otherwise). A Renderer keeps shards by the hash of what they read,
// so a commit that changes a few files rebuilds only their shards.
package render
