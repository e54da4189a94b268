// Package quorum is the Raft arithmetic mooring's validation and membership
// plans share: how many voters make a quorum, how many failures a cluster
// survives, and whether a change of voting members is safe. It is pure.
package quorum

import "fmt"

// Majority returns the quorum of n voting members: ⌊n/2⌋+1. Learners do not
// vote and must not be counted in n. Majority(0) is 1: an empty cluster can
// never reach quorum.
func Majority(n int) int {
	if n <= 0 {
		return 1
	}
	return n/2 + 1
}

// Tolerance returns how many of n voters may fail while the rest keep a
// quorum: 1 for 3, 2 for 5, and 1 for 4 (an even count adds no tolerance).
func Tolerance(n int) int {
	if n <= 0 {
		return 0
	}
	return n - Majority(n)
}

// Status is the health of a voting configuration.
type Status int

const (
	// Healthy means at least one more voter can fail without losing quorum.
	Healthy Status = iota
	// AtRisk means the healthy voters are exactly a quorum: one more failure
	// stops the cluster.
	AtRisk
	// Lost means fewer healthy voters than a quorum: the cluster accepts no
	// writes.
	Lost
)

// String returns "healthy", "at-risk" or "lost".
func (s Status) String() string {
	switch s {
	case AtRisk:
		return "at-risk"
	case Lost:
		return "lost"
	default:
		return "healthy"
	}
}

// Check returns the Status of a cluster of voters voting members of which
// healthy are healthy.
func Check(voters, healthy int) Status {
	q := Majority(voters)
	switch {
	case healthy < q:
		return Lost
	case healthy == q:
		return AtRisk
	default:
		return Healthy
	}
}

// Margin returns how many more of voters voting members may fail, healthy
// of them being healthy, before the cluster loses quorum: healthy minus the
// quorum. It is negative when quorum is already lost.
func Margin(voters, healthy int) int {
	return healthy - Majority(voters)
}

// Describe states the margin in the words every etcd report uses:
// "3 voting members, 3 healthy, can lose 1 more", "... can lose 0 more",
// or "3 voting members, 1 healthy, quorum lost (needs 2)".
func Describe(voters, healthy int) string {
	noun := "voting members"
	if voters == 1 {
		noun = "voting member"
	}
	if m := Margin(voters, healthy); m >= 0 {
		return fmt.Sprintf("%d %s, %d healthy, can lose %d more", voters, noun, healthy, m)
	}
	return fmt.Sprintf("%d %s, %d healthy, quorum lost (needs %d)", voters, noun, healthy, Majority(voters))
}
