// Package cart keeps shopping carts in Redis, as the ACL user that may touch only cart:* keys.
// A cart is a hash cart:<owner> of product id → quantity (owner is "c:<customer id>" or
// "s:<session>", orders.Owner), whose TTL every use renews. Prices and stock are not kept here:
// they are the catalog's, read when the cart is shown.
package cart

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/flashcrowd/flashcrowd/services/orders"
)

// ErrFull means the cart holds orders.MaxLines products already.
var ErrFull = errors.New("cart full")

// Store reads and writes carts.
type Store struct {
	rdb *redis.Client
	ttl time.Duration
}

// New keeps carts in rdb for ttl after their last use.
func New(rdb *redis.Client, ttl time.Duration) *Store {
	return &Store{rdb: rdb, ttl: ttl}
}

// Key is the Redis key of owner's cart.
func Key(owner string) string { return "cart:" + owner }

// Ping checks that Redis answers (readiness).
func (s *Store) Ping(ctx context.Context) error { return s.rdb.Ping(ctx).Err() }

// Get returns owner's cart, ordered by product id, and renews its TTL.
func (s *Store) Get(ctx context.Context, owner string) ([]orders.Item, error) {
	var all *redis.MapStringStringCmd
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		all = p.HGetAll(ctx, Key(owner))
		p.Expire(ctx, Key(owner), s.ttl)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("get cart: %w", err)
	}
	return items(all.Val()), nil
}

// setScript sets one line and renews the TTL, refusing a new line in a full cart (nil reply),
// in one step so that two requests cannot both add the 51st line.
var setScript = redis.NewScript(`
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 and redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[4]) then
  return false
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return redis.call('HGETALL', KEYS[1])
`)

// Set puts quantity of product in owner's cart (replacing what was there) and returns the cart;
// ErrFull when it is a new line and the cart is full.
func (s *Store) Set(ctx context.Context, owner string, product int64, quantity int32) ([]orders.Item, error) {
	res, err := setScript.Run(ctx, s.rdb, []string{Key(owner)},
		product, quantity, int64(s.ttl/time.Second), orders.MaxLines).StringSlice()
	if errors.Is(err, redis.Nil) {
		return nil, ErrFull
	}
	if err != nil {
		return nil, fmt.Errorf("set cart line: %w", err)
	}
	m := make(map[string]string, len(res)/2)
	for i := 0; i+1 < len(res); i += 2 {
		m[res[i]] = res[i+1]
	}
	return items(m), nil
}

// Remove takes product out of owner's cart and returns the cart.
func (s *Store) Remove(ctx context.Context, owner string, product int64) ([]orders.Item, error) {
	var all *redis.MapStringStringCmd
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.HDel(ctx, Key(owner), strconv.FormatInt(product, 10))
		all = p.HGetAll(ctx, Key(owner))
		p.Expire(ctx, Key(owner), s.ttl)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("remove cart line: %w", err)
	}
	return items(all.Val()), nil
}

// Delete empties owner's cart (after a checkout).
func (s *Store) Delete(ctx context.Context, owner string) error {
	if err := s.rdb.Del(ctx, Key(owner)).Err(); err != nil {
		return fmt.Errorf("delete cart: %w", err)
	}
	return nil
}

// mergeScript adds the lines of KEYS[1] to KEYS[2], each capped at ARGV[1], skipping new lines
// once KEYS[2] holds ARGV[2], then deletes KEYS[1] and renews KEYS[2]'s TTL (ARGV[3] s).
var mergeScript = redis.NewScript(`
local from = redis.call('HGETALL', KEYS[1])
for i = 1, #from, 2 do
  local q = tonumber(from[i+1])
  if q then
    local cur = tonumber(redis.call('HGET', KEYS[2], from[i]) or '0') or 0
    if cur > 0 or redis.call('HLEN', KEYS[2]) < tonumber(ARGV[2]) then
      redis.call('HSET', KEYS[2], from[i], math.min(cur + q, tonumber(ARGV[1])))
    end
  end
end
redis.call('DEL', KEYS[1])
redis.call('EXPIRE', KEYS[2], ARGV[3])
return #from / 2
`)

// Merge moves the lines of the cart of from (a guest session) into the cart of to (the
// customer who just logged in on it): quantities add up to orders.MaxQuantity, and lines
// beyond orders.MaxLines are dropped. The guest cart is gone afterwards.
func (s *Store) Merge(ctx context.Context, from, to string) error {
	if from == to {
		return nil
	}
	err := mergeScript.Run(ctx, s.rdb, []string{Key(from), Key(to)},
		orders.MaxQuantity, orders.MaxLines, int64(s.ttl/time.Second)).Err()
	if err != nil {
		return fmt.Errorf("merge carts: %w", err)
	}
	return nil
}

// items reads a cart hash, skipping a field or value that is not a valid line (nothing but
// this package writes there, but a corrupt line must not break the cart).
func items(m map[string]string) []orders.Item {
	out := make([]orders.Item, 0, len(m))
	for k, v := range m {
		id, err1 := strconv.ParseInt(k, 10, 64)
		q, err2 := strconv.ParseInt(v, 10, 32)
		if err1 != nil || err2 != nil || id <= 0 || q < 1 || q > orders.MaxQuantity {
			continue
		}
		out = append(out, orders.Item{ProductID: id, Quantity: int32(q)})
	}
	slices.SortFunc(out, func(a, b orders.Item) int { return cmp.Compare(a.ProductID, b.ProductID) })
	return out
}
