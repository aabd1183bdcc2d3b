package server

import (
	"container/list"
	"errors"
	"sync"
	"time"

	"github.com/fhec/fhec/runtime"
)

// errStoreFull: the key does not fit even after evicting every key not in use.
var errStoreFull = errors.New("key store full")

// keyStore holds decoded evaluation keys under a byte budget, evicting the
// least recently used keys that no evaluation is using.
type keyStore struct {
	mu        sync.Mutex
	budget    int64
	used      int64
	lru       *list.List // front: most recently used; values *keyEntry
	byID      map[string]*list.Element
	evictions int64
}

type keyEntry struct {
	id       string
	evk      *runtime.EvaluationKeys
	size     int64
	refs     int // evaluations using the key
	added    time.Time
	lastUsed time.Time
	removed  bool
}

func newKeyStore(budget int64) *keyStore {
	return &keyStore{budget: budget, lru: list.New(), byID: map[string]*list.Element{}}
}

// add stores evk under id, evicting as needed. It reports how many keys
// were evicted; an id already present is refreshed, not replaced.
func (s *keyStore) add(id string, evk *runtime.EvaluationKeys, size int64) (evicted int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if el, ok := s.byID[id]; ok {
		s.lru.MoveToFront(el)
		el.Value.(*keyEntry).lastUsed = time.Now()
		return 0, nil
	}
	if size > s.budget {
		return 0, errStoreFull
	}
	// Refuse without evicting anything if the keys in use leave no room.
	pinned := int64(0)
	for el := s.lru.Front(); el != nil; el = el.Next() {
		if e := el.Value.(*keyEntry); e.refs > 0 {
			pinned += e.size
		}
	}
	if pinned+size > s.budget {
		return 0, errStoreFull
	}
	// Evict from the back, skipping keys in use, until size fits.
	for el := s.lru.Back(); s.used+size > s.budget && el != nil; {
		prev := el.Prev()
		if e := el.Value.(*keyEntry); e.refs == 0 {
			s.removeLocked(el)
			evicted++
			s.evictions++
		}
		el = prev
	}
	if s.used+size > s.budget {
		return evicted, errStoreFull
	}
	now := time.Now()
	s.byID[id] = s.lru.PushFront(&keyEntry{id: id, evk: evk, size: size, added: now, lastUsed: now})
	s.used += size
	return evicted, nil
}

func (s *keyStore) removeLocked(el *list.Element) {
	e := el.Value.(*keyEntry)
	s.lru.Remove(el)
	delete(s.byID, e.id)
	s.used -= e.size
	e.removed = true
}

// has reports whether id is stored (and refreshes it), with its size.
func (s *keyStore) has(id string) (int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	el, ok := s.byID[id]
	if !ok {
		return 0, false
	}
	s.lru.MoveToFront(el)
	return el.Value.(*keyEntry).size, true
}

// acquire returns the key id and pins it until release; nil if absent.
func (s *keyStore) acquire(id string) *keyEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	el, ok := s.byID[id]
	if !ok {
		return nil
	}
	s.lru.MoveToFront(el)
	e := el.Value.(*keyEntry)
	e.refs++
	e.lastUsed = time.Now()
	return e
}

func (s *keyStore) release(e *keyEntry) {
	s.mu.Lock()
	e.refs--
	s.mu.Unlock()
}

// remove deletes id unless it is in use; it reports whether id was there
// and whether it was removed.
func (s *keyStore) remove(id string) (found, removed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	el, ok := s.byID[id]
	if !ok {
		return false, false
	}
	if el.Value.(*keyEntry).refs > 0 {
		return true, false
	}
	s.removeLocked(el)
	return true, true
}

// stats returns the number of keys, bytes used, budget and evictions.
func (s *keyStore) stats() (n int, used, budget, evictions int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byID), s.used, s.budget, s.evictions
}
