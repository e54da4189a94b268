package etcd

import (
	"slices"
	"strings"

	"github.com/mooringhq/mooring/render/model"
)

// Matching pairs declared members with the cluster's members. etcd knows a
// member by its peer URL, so that pairs first; a member whose name matches
// but whose peer URL differs pairs by name (and is a peer URL mismatch).
type Matching struct {
	// Pairs are the declared members found in the cluster.
	Pairs []Pair
	// Missing are the indexes of declared members not in the cluster.
	Missing []int
	// Undeclared are cluster members no declared member matches.
	Undeclared []Member
}

// Pair is a declared member and the cluster member it matches.
type Pair struct {
	// Declared is the index in the declared members.
	Declared int
	Member   Member
	// ByName is true when only the name matched, not the peer URL.
	ByName bool
}

// Match pairs declared with observed members.
func Match(declared []model.Member, observed []Member) Matching {
	var mt Matching
	used := make([]bool, len(observed))
	paired := make([]bool, len(declared))
	for i, d := range declared {
		for j, m := range observed {
			if !used[j] && d.PeerURL != "" && containsURL(m.PeerURLs, d.PeerURL) {
				used[j], paired[i] = true, true
				mt.Pairs = append(mt.Pairs, Pair{Declared: i, Member: m})
				break
			}
		}
	}
	for i, d := range declared {
		if paired[i] {
			continue
		}
		for j, m := range observed {
			if !used[j] && d.Name != "" && m.Name == d.Name {
				used[j], paired[i] = true, true
				mt.Pairs = append(mt.Pairs, Pair{Declared: i, Member: m, ByName: true})
				break
			}
		}
		if !paired[i] {
			mt.Missing = append(mt.Missing, i)
		}
	}
	for j, m := range observed {
		if !used[j] {
			mt.Undeclared = append(mt.Undeclared, m)
		}
	}
	slices.SortFunc(mt.Pairs, func(a, b Pair) int { return a.Declared - b.Declared })
	return mt
}

// containsURL reports whether urls holds u, ignoring case and a trailing
// slash.
func containsURL(urls []string, u string) bool {
	for _, x := range urls {
		if sameURL(x, u) {
			return true
		}
	}
	return false
}

func sameURL(a, b string) bool {
	return strings.EqualFold(strings.TrimSuffix(a, "/"), strings.TrimSuffix(b, "/"))
}
