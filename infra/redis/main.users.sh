# shellcheck shell=bash
# The main Redis's users (REDIS_SERVER=main), sourced by redis-entrypoint: `user NAME RULES`
# writes NAME's line of the ACL file, its password from REDIS_<NAME>_PASSWORD. $broad and
# $exporter are rule sets the entrypoint shares between the servers.

# cache: what services/catalog/cache sends. MGET/GET/SET (the lease is SET NX PX), DEL, INCR
# (listing generation), MULTI/EXEC (the invalidation), PUBLISH/SUBSCRIBE on catalog:invalidations,
# and its Lua scripts (fill, LSN, preload, unlock: EVALSHA, EVAL when Redis does not know them
# yet), which call GET, SET, DEL and PEXPIRE: a script's calls are checked against its caller's rules too.
user cache '~catalog:* &catalog:* +get +mget +set +del +incr +pexpire +multi +exec +discard
  +eval +evalsha +publish +subscribe +unsubscribe'
# sessions: the gateway's sessions (session:*) and login rate limits. redis_rate puts "rate:" in
# front of the key it is given, and its script asks Redis for the TIME.
user sessions "~session:* ~ratelimit:* ~rate:* $broad +time"
# carts: the orders service's carts (cart:*, hashes of product id → quantity) and the
# flash-sale gate's running counts and holds of units (stock:*).
user carts "~cart:* ~stock:* $broad"
user exporter "$exporter"
