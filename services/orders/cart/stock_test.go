package cart

import (
	"context"
	"testing"
	"time"

	"github.com/flashcrowd/flashcrowd/services/orders"
)

// The count admits exactly the units there are, all of a cart's lines or none, starts from the
// caller's figure, takes back what a failed checkout gives, and forgets on its TTL.
func TestStockCount(t *testing.T) {
	carts, mr := newStore(t)
	s := NewStock(carts.rdb, 2*time.Second)
	ctx := context.Background()
	known := map[int64]int32{1: 3, 2: 1}
	one := []orders.Item{{ProductID: 1, Quantity: 1}}
	for i := range 3 {
		if short, err := s.Take(ctx, one, known); err != nil || short != 0 {
			t.Fatalf("take %d: short %d, %v", i, short, err)
		}
	}
	if short, _ := s.Take(ctx, one, known); short != 1 {
		t.Fatalf("a fourth unit of three: short %d, want product 1", short)
	}
	// A cart of two lines, one short: nothing is taken from the other.
	both := []orders.Item{{ProductID: 2, Quantity: 1}, {ProductID: 1, Quantity: 1}}
	if short, _ := s.Take(ctx, both, known); short != 1 {
		t.Fatalf("short %d, want product 1", short)
	}
	if short, _ := s.Take(ctx, []orders.Item{{ProductID: 2, Quantity: 1}}, known); short != 0 {
		t.Fatalf("product 2 lost its unit to a refused cart: short %d", short)
	}
	// A checkout that failed gives its unit back.
	if err := s.Give(ctx, one); err != nil {
		t.Fatal(err)
	}
	if short, _ := s.Take(ctx, one, known); short != 0 {
		t.Fatalf("the unit given back: short %d", short)
	}
	// Left reads the count as it is now: all three units taken.
	if n, ok, err := s.Left(ctx, 1); err != nil || !ok || n != 0 {
		t.Fatalf("Left(1) = %d, %v, %v; want 0 left", n, ok, err)
	}
	if _, ok, err := s.Left(ctx, 99); err != nil || ok {
		t.Fatalf("Left of a product no checkout took from: found %v, %v", ok, err)
	}
	// The database's figure wins; after the TTL, the caller's figure again.
	if err := s.Set(ctx, 1, 5); err != nil {
		t.Fatal(err)
	}
	if got, _ := mr.Get("stock:1"); got != "5" {
		t.Fatalf("count %q, want 5", got)
	}
	mr.FastForward(3 * time.Second)
	if short, _ := s.Take(ctx, []orders.Item{{ProductID: 1, Quantity: 4}}, map[int64]int32{1: 3}); short != 1 {
		t.Fatalf("after the TTL, 4 of a fresh 3: short %d, want product 1", short)
	}
	if err := s.Forget(ctx, []int64{1, 2}); err != nil || mr.Exists("stock:1") {
		t.Fatalf("forget: %v, exists %v", err, mr.Exists("stock:1"))
	}
}
