package session

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

func TestCookieValuesAndKeys(t *testing.T) {
	cookie, key := New()
	if len(cookie) != 43 || len(key) != 64 {
		t.Fatalf("New() = %q, %q: want 43 base64url characters and 64 hex digits", cookie, key)
	}
	if got, ok := KeyOf(cookie); !ok || got != key {
		t.Fatalf("KeyOf(New's cookie) = %q, %v; want %q", got, ok, key)
	}
	if other, _ := New(); other == cookie {
		t.Fatal("two cookies alike")
	}
	for _, junk := range []string{"", "abc", strings.Repeat("A", 42), strings.Repeat("A", 44), cookie[:42] + "+", cookie + "="} {
		if _, ok := KeyOf(junk); ok {
			t.Errorf("KeyOf(%q) accepted a value New never makes", junk)
		}
	}
}

func TestStoreKeepsSessionsWithASlidingTTL(t *testing.T) {
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { rdb.Close() })
	s := NewStore(rdb, time.Hour)
	ctx := context.Background()

	if _, found, err := s.Get(ctx, "nope"); found || err != nil {
		t.Fatalf("Get of nothing: found=%v err=%v", found, err)
	}
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := s.Put(ctx, "k1", Session{Created: created}); err != nil {
		t.Fatal(err)
	}
	mr.FastForward(50 * time.Minute)
	got, found, err := s.Get(ctx, "k1")
	if err != nil || !found || got.SignedIn() || !got.Created.Equal(created) {
		t.Fatalf("Get = %+v, %v, %v", got, found, err)
	}
	if ttl := mr.TTL("session:k1"); ttl != time.Hour {
		t.Errorf("TTL after a use: %v, want it restarted at 1h", ttl)
	}

	if err := s.Replace(ctx, "k1", "k2", Session{Customer: 7, Email: "a@example.com", Created: created}); err != nil {
		t.Fatal(err)
	}
	if mr.Exists("session:k1") {
		t.Error("Replace left the old session")
	}
	if got, found, _ := s.Get(ctx, "k2"); !found || !got.SignedIn() || got.Email != "a@example.com" {
		t.Errorf("after Replace: %+v, %v", got, found)
	}
	if err := s.Delete(ctx, "k2"); err != nil || mr.Exists("session:k2") {
		t.Errorf("Delete: %v, still there: %v", err, mr.Exists("session:k2"))
	}

	mr.SetError("LOADING Redis is loading the dataset in memory")
	if _, _, err := s.Get(ctx, "k3"); err == nil {
		t.Error("Get hid a Redis error")
	}
}
