# shellcheck shell=bash
# The queue Redis's users (REDIS_SERVER=queue), sourced by redis-entrypoint: `user NAME RULES`
# writes NAME's line of the ACL file, its password from REDIS_<NAME>_PASSWORD. $broad and
# $exporter are rule sets the entrypoint shares between the servers. Every key and channel
# asynq uses starts with asynq:.

# The enqueuers, catalog (thumbnail tasks) and orders (its outbox relay): what asynq's Client
# (v0.26, internal/rdb) sends to add a task, and nothing that reads, moves or deletes one. SADD
# (the set of queues) and the enqueue scripts through EVALSHA (EVAL when Redis does not know them
# yet), whose calls are checked against these rules too: EXISTS (a task id taken), HSET (the
# task), LPUSH (pending), ZADD and SADD (scheduled, or a group's). Unique tasks (SET NX) are not
# allowed: this stack makes a retried enqueue harmless with task ids instead. No channel.
enqueue='~asynq:* +sadd +eval +evalsha +exists +hset +lpush +zadd'
user catalog "$enqueue"
user orders "$enqueue"
# worker: the asynq server (take, finish, retry and archive tasks, leases, its heartbeat, the
# janitor), the scheduler's and the webhook fan-out's enqueues, and the queue metrics read
# through an Inspector (MEMORY USAGE for their size): the commands of its Lua scripts and Go
# code, and PUBLISH/SUBSCRIBE on asynq:cancel.
user worker '~asynq:* &asynq:* +eval +evalsha +publish +subscribe +unsubscribe
  +get +set +setex +del +exists +expire +expireat +incr
  +hget +hmget +hset +hdel +hvals +llen +lpush +rpush +lrange +lrem +rpoplpush
  +sadd +srem +smembers +sismember
  +zadd +zcard +zrange +zrangebyscore +zrevrange +zrem +zremrangebyrank +zremrangebyscore +zscore
  +memory|usage'
# asynqmon: the queue UI reads and changes asynq's keys (delete, retry, archive, pause queues),
# cancels active tasks over asynq:cancel, and shows Redis's INFO.
user asynqmon "~asynq:* &asynq:* $broad +publish +info"
user exporter "$exporter"
