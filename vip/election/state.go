package election

import "fmt"

// State is where this node stands in the election.
type State int

// The states an elector moves through. A node starts as a follower.
const (
	// Follower: not campaigning (not eligible, or no majority heard).
	Follower State = iota
	// Candidate: campaigning, waiting in line behind the leader.
	Candidate
	// Holder: won the election; it holds the VIP (or is about to, once the
	// previous holder is gone and no other MAC answers).
	Holder
	// Released: it held the VIP and gave it up; a follower or candidate
	// state follows.
	Released
)

var stateNames = [...]string{"follower", "candidate", "holder", "released"}

// String returns the state's name as logs and metrics show it.
func (s State) String() string {
	if s < 0 || int(s) >= len(stateNames) {
		return fmt.Sprintf("state(%d)", int(s))
	}
	return stateNames[s]
}

// State returns this node's current state.
func (e *Elector) State() State {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.state
}

// setState records a change of state, logs it with its reason (one line per
// change) and tells Options.OnState.
func (e *Elector) setState(s State, reason string) {
	e.mu.Lock()
	changed := e.state != s
	e.state = s
	e.mu.Unlock()
	if !changed {
		return
	}
	e.opts.Log.Info("state changed", "node", e.opts.Node, "state", s.String(), "reason", reason)
	if e.opts.OnState != nil {
		e.opts.OnState(s, reason)
	}
}
