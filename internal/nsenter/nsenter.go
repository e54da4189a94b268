// Package nsenter runs a function inside a named network namespace, so the
// sockets it opens belong to that namespace: how the VIP tests and the demo
// listen, send ARP and dial on a node's link from the process that set the
// link up.
package nsenter

import (
	"fmt"
	"runtime"

	"github.com/vishvananda/netns"
)

// Do runs fn on a locked OS thread switched into the namespace named ns
// (as `ip netns add` names it). Sockets fn opens stay in ns after Do
// returns, whatever thread uses them. If switching back fails the thread
// stays locked, so the runtime discards it rather than reuse a thread in
// the wrong namespace.
func Do(ns string, fn func() error) error {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("netns %s: current namespace: %w", ns, err)
	}
	defer orig.Close()
	target, err := netns.GetFromName(ns)
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("netns %s: %w", ns, err)
	}
	defer target.Close()
	if err := netns.Set(target); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("netns %s: enter: %w", ns, err)
	}
	ferr := fn()
	if err := netns.Set(orig); err != nil {
		return fmt.Errorf("netns %s: leave: %w", ns, err)
	}
	runtime.UnlockOSThread()
	return ferr
}
