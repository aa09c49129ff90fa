package cart

import (
	"context"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/flashcrowd/flashcrowd/services/orders"
)

// newStock is a gate whose counts live 2 s and holds 1 min, on a clock the test moves (Redis's
// own TTLs move with mr.FastForward).
func newStock(t *testing.T) (*Stock, *miniredis.Miniredis, func(time.Duration)) {
	t.Helper()
	carts, mr := newStore(t)
	s := NewStock(carts.rdb, 2*time.Second, time.Minute)
	now := time.Unix(1_800_000_000, 0)
	s.now = func() time.Time { return now }
	return s, mr, func(d time.Duration) { now = now.Add(d); mr.FastForward(d) }
}

func hold(t *testing.T, s *Stock, owner string, id int64, q, figure int32) (bool, int32) {
	t.Helper()
	ok, may, err := s.Hold(context.Background(), owner, id, q, figure)
	if err != nil {
		t.Fatal(err)
	}
	return ok, may
}

// Holds take units from the count; a cart changing its quantity takes or gives the difference;
// the units left are refused to everyone else, and a lapsed hold frees its units.
func TestStockHolds(t *testing.T) {
	s, mr, advance := newStock(t)
	ctx := context.Background()
	if ok, may := hold(t, s, "s:a", 1, 2, 3); !ok || may != 3 {
		t.Fatalf("a holds 2 of 3: %v, may hold %d", ok, may)
	}
	if ok, may := hold(t, s, "s:b", 1, 2, 3); ok || may != 1 {
		t.Fatalf("b wants 2 of the 1 left: %v, may hold %d", ok, may)
	}
	if ok, _ := hold(t, s, "s:b", 1, 1, 3); !ok {
		t.Fatal("b holds the last one")
	}
	if ok, may := hold(t, s, "s:c", 1, 1, 3); ok || may != 0 {
		t.Fatalf("c finds none: %v, may hold %d (want 0: sold out)", ok, may)
	}
	// a lowers its quantity: one unit goes back, and c gets it.
	if ok, _ := hold(t, s, "s:a", 1, 1, 3); !ok {
		t.Fatal("a lowers its hold")
	}
	if ok, _ := hold(t, s, "s:c", 1, 1, 3); !ok {
		t.Fatal("c holds the unit a gave back")
	}
	// b's line leaves the cart: its unit is free again.
	if err := s.Release(ctx, "s:b", 1); err != nil {
		t.Fatal(err)
	}
	if got, _ := mr.Get("stock:1"); got != "1" {
		t.Fatalf("count after b's release %q, want 1", got)
	}
	// Every hold lapses after a minute without a renewal (the count, after 2 s, is read again
	// from the figure less the live holds: none by then).
	advance(61 * time.Second)
	if ok, may := hold(t, s, "s:d", 1, 3, 3); !ok || may != 3 {
		t.Fatalf("after the holds lapsed, d holds all 3: %v, may %d", ok, may)
	}
}

// A count read again keeps the live holds out of the figure, and a lapsed hold gives its units
// back to a count that lives on.
func TestStockCountAfterLapses(t *testing.T) {
	s, mr, advance := newStock(t)
	hold(t, s, "s:a", 1, 2, 5)
	advance(3 * time.Second) // the count lapses; a's hold lives
	if mr.Exists("stock:1") {
		t.Fatal("the count outlived its TTL")
	}
	if ok, may := hold(t, s, "s:b", 1, 4, 5); ok || may != 3 {
		t.Fatalf("5 units, 2 held by a: b wants 4: %v, may hold %d (want 3)", ok, may)
	}
	hold(t, s, "s:b", 1, 3, 5)
	advance(30 * time.Second)
	hold(t, s, "s:b", 1, 3, 5) // b renews; the count is read again (0 left)
	advance(31 * time.Second)  // a's hold lapses, b's lives
	if ok, may := hold(t, s, "s:c", 1, 2, 5); !ok || may != 2 {
		t.Fatalf("c gets a's lapsed 2: %v, may hold %d", ok, may)
	}
}

// A checkout takes its cart's units: what it holds, and the rest from the count, all lines or
// none; its holds are gone afterwards (the units are taken), and a failed checkout gives them
// back.
func TestStockTake(t *testing.T) {
	s, mr, _ := newStock(t)
	ctx := context.Background()
	known := map[int64]int32{1: 3, 2: 1}
	hold(t, s, "s:a", 1, 2, 3)
	// a's cart: 2 of product 1 (held) and 1 of product 2 (not held: added while Redis was out).
	cart := []orders.Item{{ProductID: 1, Quantity: 2}, {ProductID: 2, Quantity: 1}}
	// b takes the one unit of product 2 first.
	if short, err := s.Take(ctx, "s:b", []orders.Item{{ProductID: 2, Quantity: 1}}, known); err != nil || short != 0 {
		t.Fatalf("b takes product 2: short %d, %v", short, err)
	}
	if short, err := s.Take(ctx, "s:a", cart, known); err != nil || short != 2 {
		t.Fatalf("a's cart: short %d, %v; want product 2", short, err)
	}
	// a still holds its 2 of product 1: nobody else can have them.
	if ok, may := hold(t, s, "s:c", 1, 2, 3); ok || may != 1 {
		t.Fatalf("c wants 2 of product 1 while a holds 2 of 3: %v, may %d", ok, may)
	}
	// The unit of product 2 comes back (b's checkout failed): a's checkout takes everything.
	if err := s.Give(ctx, []orders.Item{{ProductID: 2, Quantity: 1}}); err != nil {
		t.Fatal(err)
	}
	if short, err := s.Take(ctx, "s:a", cart, known); err != nil || short != 0 {
		t.Fatalf("a's cart: short %d, %v", short, err)
	}
	if mr.Exists("stock:1:held") && mr.HGet("stock:1:held", "s:a") != "" {
		t.Fatal("a's hold outlived its checkout")
	}
	if got, _ := mr.Get("stock:1"); got != "1" {
		t.Fatalf("product 1's count %q, want 1 (3 less a's 2)", got)
	}
}

// At login the guest's holds become the account's; the database's figure, learned from a
// refused decrement, is the count less the live holds.
func TestStockMoveAndSet(t *testing.T) {
	s, mr, _ := newStock(t)
	ctx := context.Background()
	hold(t, s, "s:guest", 1, 2, 10)
	hold(t, s, "c:7", 1, 1, 10)
	if err := s.Move(ctx, "s:guest", "c:7", []int64{1, 2}); err != nil {
		t.Fatal(err)
	}
	if got := mr.HGet("stock:1:held", "c:7"); got != "3" {
		t.Fatalf("the account holds %q, want 3", got)
	}
	if got := mr.HGet("stock:1:held", "s:guest"); got != "" {
		t.Fatalf("the guest still holds %q", got)
	}
	if err := s.Set(ctx, 1, 5); err != nil {
		t.Fatal(err)
	}
	if got, _ := mr.Get("stock:1"); got != "2" {
		t.Fatalf("count %q, want 2 (5 less 3 held)", got)
	}
	if err := s.Forget(ctx, []int64{1}); err != nil || mr.Exists("stock:1") {
		t.Fatalf("forget: %v, exists %v", err, mr.Exists("stock:1"))
	}
}
