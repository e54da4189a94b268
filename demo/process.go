package demo

import (
	"os"
	"syscall"
	"time"
)

// stopProcess stops p as a node's shutdown would: SIGTERM, so it can
// release what it holds (a VIP, a Lease), then SIGKILL when it is still
// running after grace. It returns once exited is closed (by the goroutine
// that waits for p).
func stopProcess(p *os.Process, exited <-chan struct{}, grace time.Duration) {
	_ = p.Signal(syscall.SIGTERM) // it may have exited already; exited tells
	select {
	case <-exited:
	case <-time.After(grace):
		_ = p.Kill()
		<-exited
	}
}
