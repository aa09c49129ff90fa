package cache

import (
	"testing"
	"time"

	"github.com/flashcrowd/flashcrowd/foundation/web"
)

func TestLocalExpiresOnRead(t *testing.T) {
	now := time.Unix(1000, 0)
	l := newLocal[int64](10, 5*time.Second)
	l.now = func() time.Time { return now }
	l.Add(1, entry{Tagged: web.Tagged{ETag: `"a"`}})

	now = now.Add(4999 * time.Millisecond)
	if e, ok := l.Get(1); !ok || e.ETag != `"a"` {
		t.Fatalf("Get before the ttl = %v, %v; want the entry", e, ok)
	}
	now = now.Add(time.Millisecond)
	if _, ok := l.Get(1); ok {
		t.Fatal("Get at the ttl found the entry; want it expired")
	}
	if n := l.lru.Len(); n != 0 {
		t.Fatalf("%d entries after an expired read; want it removed", n)
	}
}

func TestLocalEvictsTheLeastRecentlyUsed(t *testing.T) {
	l := newLocal[string](2, time.Minute)
	l.Add("a", entry{})
	l.Add("b", entry{})
	l.Get("a") // b is now the least recently used
	l.Add("c", entry{})
	if _, ok := l.Get("b"); ok {
		t.Error("b was kept; want it evicted as the least recently used")
	}
	for _, k := range []string{"a", "c"} {
		if _, ok := l.Get(k); !ok {
			t.Errorf("%s was evicted; want it kept", k)
		}
	}
}
