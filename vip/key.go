package vip

import (
	"bytes"
	"fmt"
	"os"

	"github.com/mooringhq/mooring/vip/election"
)

// ReadKeyFile reads the heartbeat key every control-plane node shares: the
// file's bytes without trailing white space (so `openssl rand -hex 32 >
// FILE` makes a good one), at least election.MinKeyLen of them. Keep the
// file readable by root only: whoever reads it can make heartbeats.
func ReadKeyFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("heartbeat key: %w", err)
	}
	b = bytes.TrimRight(b, " \t\r\n")
	if len(b) < election.MinKeyLen {
		return nil, fmt.Errorf("heartbeat key %s: %d bytes; at least %d are needed (e.g. openssl rand -hex 32 > %s)", path, len(b), election.MinKeyLen, path)
	}
	return b, nil
}
