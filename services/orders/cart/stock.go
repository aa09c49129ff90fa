package cart

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/flashcrowd/flashcrowd/services/orders"
)

// Stock is the flash sale's gate in front of the database, shared by every orders instance in
// Redis. Adding a product to a cart holds its units for a while (the hold); a checkout turns
// the cart's holds into units taken, before its transaction. Each product has
//
//	stock:<id>        the units free to hold: the database's figure less the live holds
//	stock:<id>:held   a hash, cart owner → units held
//	stock:<id>:until  a sorted set, cart owner → when the hold lapses (Unix ms)
//
// So the buyers who got the product into their carts are the ones who can buy it, and every
// other buyer hears "sold out" when adding it: in a flash sale, in a Redis round trip on the
// first request, which the edge then answers itself (haproxy.cfg's sold-out gate), instead of
// one request later, at checkout, from the service. A hold lapses after its TTL unless renewed
// (an abandoned cart frees its units then); the cart line stays and its checkout holds anew.
//
// The gate only admits: the transaction's conditional decrement still decides. A count too
// high lets a few more buyers try, and one too low (a restock it has not seen) refuses them
// until it lapses, ttl after its last take, when it is read again from the caller's figure.
// Without Redis, every cart and checkout goes on and the database decides.
type Stock struct {
	rdb  *redis.Client
	ttl  time.Duration // a count's life after its last take
	hold time.Duration // a hold's life after its last renewal
	now  func() time.Time
}

// NewStock keeps each product's count for ttl after its last take or figure, and each hold
// for hold after the cart last set its quantity.
func NewStock(rdb *redis.Client, ttl, hold time.Duration) *Stock {
	return &Stock{rdb: rdb, ttl: ttl, hold: hold, now: time.Now}
}

// stockKeys are a product's three keys, in the order the scripts take them.
func stockKeys(id int64) []string {
	k := "stock:" + strconv.FormatInt(id, 10)
	return []string{k, k + ":held", k + ":until"}
}

// holdLua defines hold(count, held, lapses, figure, owner, q, now, ttl, holdttl): it sets
// owner's hold on a product to q units, taking the difference from the count or giving it
// back, after returning the lapsed holds' units. A missing count starts at figure (the
// caller's, the database's units) less the live holds. It returns whether the count covered
// the change and how many units owner may hold now. A refusal leaves the count's TTL as it
// was: once only refusals come, it lapses and is read again (a restock shows).
const holdLua = `
local function hold(count, held, lapses, figure, owner, q, now, ttl, holdttl)
  local freed = 0
  for _, o in ipairs(redis.call('ZRANGEBYSCORE', lapses, '-inf', now)) do
    freed = freed + tonumber(redis.call('HGET', held, o) or '0')
    redis.call('HDEL', held, o)
    redis.call('ZREM', lapses, o)
  end
  local n = redis.call('GET', count)
  if n then
    n = tonumber(n) + freed
    if freed > 0 then redis.call('INCRBY', count, freed) end
  else
    n = figure
    for _, v in ipairs(redis.call('HVALS', held)) do n = n - tonumber(v) end
    redis.call('SET', count, n, 'PX', ttl)
  end
  local cur = tonumber(redis.call('HGET', held, owner) or '0')
  if q - cur > n then return false, math.max(n + cur, 0) end
  redis.call('SET', count, n - (q - cur), 'PX', ttl)
  if q > 0 then
    redis.call('HSET', held, owner, q)
    redis.call('ZADD', lapses, now + holdttl, owner)
    redis.call('PEXPIRE', held, holdttl)
    redis.call('PEXPIRE', lapses, holdttl)
  else
    redis.call('HDEL', held, owner)
    redis.call('ZREM', lapses, owner)
  end
  return true, math.max(n - (q - cur) + q, 0)
end
`

// holdScript: KEYS a product's keys; ARGV figure, owner, q, now, ttl, holdttl. It returns
// {1 when held else 0, units owner may hold}.
var holdScript = redis.NewScript(holdLua + `
local ok, may = hold(KEYS[1], KEYS[2], KEYS[3], tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3]),
  tonumber(ARGV[4]), ARGV[5], ARGV[6])
return {ok and 1 or 0, may}`)

// takeScript: KEYS three per line; ARGV owner, now, ttl, holdttl, then figure and q per line.
// It holds each line's units for owner (what it holds already counts), or returns the index of
// the first line the count cannot cover; when all are held, the holds become units taken (they
// leave the hash) and it returns 0.
var takeScript = redis.NewScript(holdLua + `
local lines = #KEYS / 3
for i = 1, lines do
  local k = 3 * (i - 1)
  local ok = hold(KEYS[k+1], KEYS[k+2], KEYS[k+3], tonumber(ARGV[3+2*i]), ARGV[1],
    tonumber(ARGV[4+2*i]), tonumber(ARGV[2]), ARGV[3], ARGV[4])
  if not ok then return i end
end
for i = 1, lines do
  local k = 3 * (i - 1)
  redis.call('HDEL', KEYS[k+2], ARGV[1])
  redis.call('ZREM', KEYS[k+3], ARGV[1])
end
return 0`)

// giveScript puts units back into the counts that still exist (a lapsed one is read again from
// a fresh figure): KEYS the counts, ARGV the units.
var giveScript = redis.NewScript(`
for i, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then redis.call('INCRBY', key, ARGV[i]) end
end
return 0`)

// releaseScript drops owner's hold (KEYS a product's keys; ARGV owner), giving its units back
// to the count when there is one.
var releaseScript = redis.NewScript(`
local q = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
if q > 0 and redis.call('EXISTS', KEYS[1]) == 1 then redis.call('INCRBY', KEYS[1], q) end
return q`)

// moveScript moves the holds of ARGV[1] to ARGV[2] (KEYS three per product; ARGV[3] the new
// lapse time): a guest's holds become the account's at login.
var moveScript = redis.NewScript(`
for k = 1, #KEYS, 3 do
  local q = redis.call('HGET', KEYS[k+1], ARGV[1])
  if q then
    redis.call('HDEL', KEYS[k+1], ARGV[1])
    redis.call('ZREM', KEYS[k+2], ARGV[1])
    redis.call('HINCRBY', KEYS[k+1], ARGV[2], q)
    redis.call('ZADD', KEYS[k+2], ARGV[3], ARGV[2])
  end
end
return 0`)

// figureScript sets a count to the database's figure (ARGV[1]) less the live holds, for ARGV[2] ms.
var figureScript = redis.NewScript(`
local n = tonumber(ARGV[1])
for _, v in ipairs(redis.call('HVALS', KEYS[2])) do n = n - tonumber(v) end
redis.call('SET', KEYS[1], n, 'PX', ARGV[2])
return n`)

func (s *Stock) nowMS() int64 { return s.now().UnixMilli() }

// Hold sets owner's hold on product id to quantity units (0 drops it), starting a missing count
// at figure. When the count cannot cover it, it returns false and how many units owner may hold
// (0: sold out for everyone without a hold). An error means Redis could not answer, and the
// caller goes on without the gate.
func (s *Stock) Hold(ctx context.Context, owner string, id int64, quantity, figure int32) (bool, int32, error) {
	r, err := holdScript.Run(ctx, s.rdb, stockKeys(id),
		figure, owner, quantity, s.nowMS(), s.ttl.Milliseconds(), s.hold.Milliseconds()).Int64Slice()
	if err != nil {
		return false, 0, err
	}
	if len(r) != 2 {
		return false, 0, errors.New("stock hold: unexpected reply")
	}
	return r[0] == 1, int32(r[1]), nil
}

// Release drops owner's hold on product id (the line left the cart).
func (s *Stock) Release(ctx context.Context, owner string, id int64) error {
	return releaseScript.Run(ctx, s.rdb, stockKeys(id), owner).Err()
}

// Take takes a checkout's units: owner's holds cover what they hold, and the count the rest,
// starting a missing count at known[id]. It returns the id of the first product that cannot
// cover its line (0 when all were taken); an error means Redis could not answer, and the caller
// goes on without the gate.
func (s *Stock) Take(ctx context.Context, owner string, items []orders.Item, known map[int64]int32) (int64, error) {
	keys := make([]string, 0, 3*len(items))
	args := []any{owner, s.nowMS(), s.ttl.Milliseconds(), s.hold.Milliseconds()}
	for _, it := range items {
		keys = append(keys, stockKeys(it.ProductID)...)
		args = append(args, known[it.ProductID], it.Quantity)
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
		keys[i], args[i] = stockKeys(it.ProductID)[0], it.Quantity
	}
	return giveScript.Run(ctx, s.rdb, keys, args...).Err()
}

// Move hands from's holds on products ids to to: a guest cart merged into an account keeps
// what it held.
func (s *Stock) Move(ctx context.Context, from, to string, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	keys := make([]string, 0, 3*len(ids))
	for _, id := range ids {
		keys = append(keys, stockKeys(id)...)
	}
	return moveScript.Run(ctx, s.rdb, keys, from, to, s.nowMS()+s.hold.Milliseconds()).Err()
}

// Set records the database's own figure for a product, as a refused decrement learned it; the
// count is that less the live holds.
func (s *Stock) Set(ctx context.Context, id int64, left int32) error {
	return figureScript.Run(ctx, s.rdb, stockKeys(id), left, s.ttl.Milliseconds()).Err()
}

// Forget drops products' counts (after a cancellation returned units): the next hold or
// checkout starts them again from a fresh figure.
func (s *Stock) Forget(ctx context.Context, ids []int64) error {
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = stockKeys(id)[0]
	}
	return s.rdb.Del(ctx, keys...).Err()
}
