// Package flock lets several mooring processes share a folder on one
// machine (a Git cache, a forge delivery queue) without stepping on each
// other: an exclusive flock(2) on a lock file, which the kernel drops when
// the process dies, so a crashed process never leaves a folder locked.
package flock

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// poll is how often a waiting Lock tries again: flock has no timeout, and
// a blocking flock could not stop when ctx ends.
const poll = 20 * time.Millisecond

// Lock takes an exclusive lock on path (created if missing), waiting until
// it is free or ctx ends. It logs at debug level, once, when it has to
// wait. unlock releases the lock.
func Lock(ctx context.Context, path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	for waited := false; ; waited = true {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			// Closing the file releases the lock.
			return func() {
				if err := f.Close(); err != nil {
					slog.Debug("release lock", "path", path, "err", err)
				}
			}, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if !waited {
			slog.Debug("waiting for lock held by another process", "path", path)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for lock %s: %w", path, ctx.Err())
		case <-time.After(poll):
		}
	}
}
