package cart

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/flashcrowd/flashcrowd/services/orders"
)

func newStore(t *testing.T) (*Store, *miniredis.Miniredis) {
	t.Helper()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { rdb.Close() })
	return New(rdb, time.Hour), mr
}

func TestSetGetRemove(t *testing.T) {
	s, mr := newStore(t)
	ctx := context.Background()
	if _, err := s.Set(ctx, "s:abc", 9, 2); err != nil {
		t.Fatal(err)
	}
	got, err := s.Set(ctx, "s:abc", 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	if want := []orders.Item{{ProductID: 3, Quantity: 1}, {ProductID: 9, Quantity: 2}}; !slices.Equal(got, want) {
		t.Errorf("Set = %v, want %v (ordered by product)", got, want)
	}
	mr.FastForward(30 * time.Minute)
	if got, _ := s.Get(ctx, "s:abc"); len(got) != 2 {
		t.Errorf("Get = %v", got)
	}
	if ttl := mr.TTL("cart:s:abc"); ttl != time.Hour {
		t.Errorf("TTL after a read %v: every use renews it", ttl)
	}
	got, err = s.Remove(ctx, "s:abc", 9)
	if err != nil || !slices.Equal(got, []orders.Item{{ProductID: 3, Quantity: 1}}) {
		t.Errorf("Remove = %v, %v", got, err)
	}
	mr.FastForward(2 * time.Hour)
	if got, _ := s.Get(ctx, "s:abc"); len(got) != 0 {
		t.Errorf("cart outlived its TTL: %v", got)
	}
}

func TestFullCart(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	for id := range int64(orders.MaxLines) {
		if _, err := s.Set(ctx, "c:1", id+1, 1); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Set(ctx, "c:1", 1000, 1); !errors.Is(err, ErrFull) {
		t.Errorf("51st line: %v, want ErrFull", err)
	}
	if _, err := s.Set(ctx, "c:1", 1, 5); err != nil {
		t.Errorf("changing a line of a full cart: %v", err)
	}
}

func TestCorruptLinesAreSkipped(t *testing.T) {
	s, mr := newStore(t)
	mr.HSet("cart:s:x", "1", "2", "two", "1", "3", "many", "4", "0", "5", "100")
	got, err := s.Get(context.Background(), "s:x")
	if err != nil || !slices.Equal(got, []orders.Item{{ProductID: 1, Quantity: 2}}) {
		t.Errorf("Get = %v, %v", got, err)
	}
}

func TestMerge(t *testing.T) {
	s, mr := newStore(t)
	ctx := context.Background()
	for id, q := range map[int64]int32{1: 98, 2: 1} {
		if _, err := s.Set(ctx, "c:7", id, q); err != nil {
			t.Fatal(err)
		}
	}
	for id, q := range map[int64]int32{1: 5, 3: 2} {
		if _, err := s.Set(ctx, "s:guest", id, q); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Merge(ctx, "s:guest", "c:7"); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Get(ctx, "c:7")
	if want := []orders.Item{{ProductID: 1, Quantity: orders.MaxQuantity}, {ProductID: 2, Quantity: 1}, {ProductID: 3, Quantity: 2}}; !slices.Equal(got, want) {
		t.Errorf("merged = %v, want %v", got, want)
	}
	if mr.Exists("cart:s:guest") {
		t.Error("guest cart left behind")
	}
	// Merging an empty or missing cart, or a cart into itself, changes nothing.
	if err := s.Merge(ctx, "s:none", "c:7"); err != nil {
		t.Fatal(err)
	}
	if err := s.Merge(ctx, "c:7", "c:7"); err != nil {
		t.Fatal(err)
	}
	if again, _ := s.Get(ctx, "c:7"); !slices.Equal(again, got) {
		t.Errorf("after no-op merges: %v", again)
	}
}

func TestMergeKeepsTheLineLimit(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	for id := range int64(orders.MaxLines - 1) {
		if _, err := s.Set(ctx, "c:1", id+1, 1); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []int64{1, 500, 501} {
		if _, err := s.Set(ctx, "s:g", id, 1); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Merge(ctx, "s:g", "c:1"); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Get(ctx, "c:1")
	if len(got) != orders.MaxLines || got[0].Quantity != 2 {
		t.Errorf("merged cart has %d lines, first %v", len(got), got[0])
	}
}

func TestRedisDown(t *testing.T) {
	s, mr := newStore(t)
	mr.Close()
	ctx := context.Background()
	if _, err := s.Get(ctx, "s:a"); err == nil {
		t.Error("Get without Redis")
	}
	if _, err := s.Set(ctx, "s:a", 1, 1); err == nil || errors.Is(err, ErrFull) {
		t.Errorf("Set without Redis: %v", err)
	}
	if err := s.Ping(ctx); err == nil {
		t.Error("Ping without Redis")
	}
}
