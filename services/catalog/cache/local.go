package cache

import (
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// local is an L1: a size-bounded LRU whose entries expire ttl after they were added. An expired
// entry is found out when it is read, so nothing runs in the background: an expiring LRU that
// sweeps (golang-lru's expirable) wakes the process 20 times a second per cache, which on an
// idle laptop stack of many instances is a measurable share of a core for nothing.
type local[K comparable] struct {
	lru *lru.Cache[K, timed]
	ttl time.Duration
	now func() time.Time
}

type timed struct {
	e       entry
	expires time.Time
}

func newLocal[K comparable](size int, ttl time.Duration) *local[K] {
	l, err := lru.New[K, timed](size)
	if err != nil {
		panic(err) // size < 1: the config refuses it before this
	}
	return &local[K]{lru: l, ttl: ttl, now: time.Now}
}

func (l *local[K]) Get(key K) (entry, bool) {
	t, ok := l.lru.Get(key)
	if !ok {
		return entry{}, false
	}
	if !l.now().Before(t.expires) {
		l.lru.Remove(key)
		return entry{}, false
	}
	return t.e, true
}

func (l *local[K]) Add(key K, e entry) { l.lru.Add(key, timed{e, l.now().Add(l.ttl)}) }

func (l *local[K]) Remove(key K) { l.lru.Remove(key) }

func (l *local[K]) Purge() { l.lru.Purge() }
