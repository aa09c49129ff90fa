package cart

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/flashcrowd/flashcrowd/services/orders"
)

// Stock is the flash sale's gate in front of the database: a running count of each product's
// units in Redis (stock:<id>), shared by every orders instance, from which a checkout takes its
// units before its transaction. When the count cannot cover a cart, the buyer hears "sold out"
// in a Redis round trip instead of waiting in line for the product's row lock only to be
// refused there. The count only admits: the transaction's conditional decrement still decides,
// so a count that is too high lets a few more buyers try, and one that is too low (a restock
// it has not seen) refuses them for at most its TTL, after which it is read again from the
// caller's latest figure. Without Redis, every checkout goes to the database.
type Stock struct {
	rdb *redis.Client
	ttl time.Duration
}

// NewStock keeps each product's count for ttl after its last take or figure.
func NewStock(rdb *redis.Client, ttl time.Duration) *Stock { return &Stock{rdb: rdb, ttl: ttl} }

func stockKey(id int64) string { return "stock:" + strconv.FormatInt(id, 10) }

// takeScript takes ARGV[2i] units from KEYS[i] for every i, or nothing: it returns the index
// of the first key that cannot cover its units, 0 when all were taken. A missing count starts
// at ARGV[2i+1], the caller's figure. A count lives ARGV[1] ms from its last take: while a
// sale goes on it keeps its own figure (the caller's may lag the orders in flight); once
// only refusals come, it expires and starts again from a fresh figure (a restock shows).
var takeScript = redis.NewScript(`
local counts = {}
for i, key in ipairs(KEYS) do
  local n = redis.call('GET', key)
  if not n then
    n = ARGV[2*i+1]
    redis.call('SET', key, n, 'PX', ARGV[1])
  end
  if tonumber(n) < tonumber(ARGV[2*i]) then return i end
end
for i, key in ipairs(KEYS) do
  redis.call('DECRBY', key, ARGV[2*i])
  redis.call('PEXPIRE', key, ARGV[1])
end
return 0`)

// giveScript puts units back into the counts that still exist (an expired one will be read
// again from a fresh figure).
var giveScript = redis.NewScript(`
for i, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then redis.call('INCRBY', key, ARGV[i]) end
end
return 0`)

// Take takes items' units from the counts, starting a missing count at known[id]. It returns
// the id of the first product that cannot cover its line (0 when all were taken); an error
// means Redis could not answer, and the caller goes on without the gate.
func (s *Stock) Take(ctx context.Context, items []orders.Item, known map[int64]int32) (int64, error) {
	keys := make([]string, len(items))
	args := []any{s.ttl.Milliseconds()}
	for i, it := range items {
		keys[i] = stockKey(it.ProductID)
		args = append(args, it.Quantity, known[it.ProductID])
	}
	i, err := takeScript.Run(ctx, s.rdb, keys, args...).Int()
	if err != nil || i == 0 {
		return 0, err
	}
	return items[i-1].ProductID, nil
}

// Give puts back what Take took for a checkout that did not commit for another reason than
// the stock.
func (s *Stock) Give(ctx context.Context, items []orders.Item) error {
	keys := make([]string, len(items))
	args := make([]any, len(items))
	for i, it := range items {
		keys[i], args[i] = stockKey(it.ProductID), it.Quantity
	}
	return giveScript.Run(ctx, s.rdb, keys, args...).Err()
}

// Left returns a product's count and true, or false when there is none: no checkout took
// from it within the TTL.
func (s *Stock) Left(ctx context.Context, id int64) (int32, bool, error) {
	n, err := s.rdb.Get(ctx, stockKey(id)).Int64()
	switch {
	case errors.Is(err, redis.Nil):
		return 0, false, nil
	case err != nil:
		return 0, false, err
	}
	return int32(max(n, 0)), true, nil
}

// Set records the database's own figure for a product, as a refused decrement or a commit
// learned it.
func (s *Stock) Set(ctx context.Context, id int64, left int32) error {
	return s.rdb.Set(ctx, stockKey(id), left, s.ttl).Err()
}

// Forget drops products' counts (after a cancellation returned units): the next checkout
// starts them again from a fresh figure.
func (s *Stock) Forget(ctx context.Context, ids []int64) error {
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = stockKey(id)
	}
	return s.rdb.Del(ctx, keys...).Err()
}
