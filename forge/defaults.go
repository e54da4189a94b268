package forge

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/mooringhq/mooring/finding"
)

// DefaultQueueDir returns the folder of deliveries waiting for retry when
// none is configured: the user cache folder's mooring/forge-queue.
func DefaultQueueDir() (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache folder for the delivery queue: %w", err)
	}
	return filepath.Join(cache, "mooring", "forge-queue"), nil
}

// ContextOf returns the status context a report is posted under: "mooring/"
// and its kind (mooring/validate, mooring/drift-etcd, ...).
func ContextOf(r finding.Report) string { return "mooring/" + r.Kind }

// CommentKey returns the pull request comment key of a report about the
// Kustomize path p: the path made a key, or "default" for none, so each
// path previewed on a pull request has its own comment.
func CommentKey(p string) string {
	k := strings.Trim(strings.NewReplacer(" ", "-", ":", "-").Replace(p), "/")
	if k == "" {
		return "default"
	}
	return k
}
