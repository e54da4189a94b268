package statuspage

import (
	"cmp"
	"slices"
	"sync"
)

// Store is a Source kept by its owner: serve puts a target's page after
// each run, and every open page follows. It is safe for concurrent use; the
// zero Store is empty and ready.
type Store struct {
	mu      sync.Mutex
	targets []Target
	version uint64
	changed chan struct{}
}

// Put adds or replaces the page of t.Name.
func (s *Store) Put(t Target) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, found := slices.BinarySearchFunc(s.targets, t.Name, func(x Target, name string) int { return cmp.Compare(x.Name, name) })
	// A new slice each time: snapshots already handed out stay unchanged.
	next := slices.Clone(s.targets)
	if found {
		next[i] = t
	} else {
		next = slices.Insert(next, i, t)
	}
	s.targets = next
	s.bump()
}

// Remove drops the page of name, if any.
func (s *Store) Remove(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(s.targets, func(t Target) bool { return t.Name == name })
	if i < 0 {
		return
	}
	s.targets = slices.Delete(slices.Clone(s.targets), i, i+1)
	s.bump()
}

// bump advances the version and wakes everyone waiting on the old one.
func (s *Store) bump() {
	s.version++
	if s.changed != nil {
		close(s.changed)
	}
	s.changed = make(chan struct{})
}

// Snapshot returns the pages, sorted by name. Callers must not modify them.
func (s *Store) Snapshot() Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.changed == nil {
		s.changed = make(chan struct{})
	}
	return Snapshot{Targets: s.targets, Version: s.version, Changed: s.changed}
}
