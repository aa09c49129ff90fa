# shellcheck shell=bash
# The main Redis's users (REDIS_SERVER=main), sourced by redis-entrypoint: `user NAME RULES`
# writes NAME's line of the ACL file, its password from REDIS_<NAME>_PASSWORD. $broad and
# $exporter are rule sets the entrypoint shares between the servers.

# cache: what services/catalog/cache sends. MGET/GET/SET (the lease is SET NX PX), DEL, INCR
# (listing generation), MULTI/EXEC (the invalidation), PUBLISH/SUBSCRIBE on catalog:invalidations,
# and its two Lua scripts (EVALSHA, EVAL when Redis does not know them yet), which call GET, SET,
# DEL and PEXPIRE: a script's calls are checked against its caller's rules too.
user cache '~catalog:* &catalog:* +get +mget +set +del +incr +pexpire +multi +exec +discard
  +eval +evalsha +publish +subscribe +unsubscribe'
# sessions: the gateway's sessions (session:*) and login rate limits. redis_rate puts "rate:" in
# front of the key it is given, and its script asks Redis for the TIME.
user sessions "~session:* ~ratelimit:* ~rate:* $broad +time"
# carts: the orders service's carts (cart:*, hashes of product id → quantity) and the
# flash-sale gate's running counts of units (stock:*).
user carts "~cart:* ~stock:* $broad"
# queue: what asynq v0.26 sends (internal/rdb): its Lua scripts through EVALSHA/EVAL, the
# commands those scripts and its Go code call, PUBLISH/SUBSCRIBE on asynq:cancel, and MEMORY
# USAGE for the queue-size metrics. Every key and channel it uses starts with asynq:.
user queue '~asynq:* &asynq:* +eval +evalsha +publish +subscribe +unsubscribe
  +get +set +setex +del +exists +expire +expireat +incr
  +hget +hmget +hset +hdel +hvals +llen +lpush +rpush +lrange +lrem +rpoplpush
  +sadd +srem +smembers +sismember
  +zadd +zcard +zrange +zrangebyscore +zrevrange +zrem +zremrangebyrank +zremrangebyscore +zscore
  +memory|usage'
# asynqmon: the queue UI reads and changes asynq's keys (delete, retry, archive, pause queues),
# cancels active tasks over asynq:cancel, and shows Redis's INFO.
user asynqmon "~asynq:* &asynq:* $broad +publish +info"
user exporter "$exporter"
