//go:build e2e

package e2e

import (
	"strings"
	"testing"
	"time"
)

// These tests stop a server and start it again; they run after the others (file order).

func TestReadsSurviveRedisOutage(t *testing.T) {
	compose(t, "stop", "redis")
	t.Cleanup(func() { compose(t, "up", "--detach", "--wait", "redis") })
	for id := int64(300); id < 330; id++ {
		getProduct(t, id) // fails the test on any non-200
	}

	compose(t, "up", "--detach", "--wait", "redis")
	// Caching resumes: a product first read after the restart is soon answered by Redis for
	// an instance that has not read it yet.
	const id = 331
	eventually(t, 10*time.Second, "a Redis hit after Redis came back", func() bool {
		_, r := getProduct(t, id)
		return r.header.Get("X-Cache") == "redis-hit"
	})
}

func TestReadsSurviveAReplicaOutage(t *testing.T) {
	compose(t, "stop", "postgres-replica-1")
	t.Cleanup(func() { compose(t, "up", "--detach", "--wait", "postgres-replica-1") })
	for id := int64(400); id < 460; id++ {
		if _, r := getProduct(t, id); strings.HasSuffix(r.header.Get("X-Cache"), "-hit") {
			t.Fatalf("product %d was cached; this test needs cold reads", id)
		}
	}
	compose(t, "up", "--detach", "--wait", "postgres-replica-1")
	// Back in rotation: it streams again and serves reads.
	eventually(t, 30*time.Second, "replica-1 streaming again", func() bool {
		return psql(t, "postgres-primary", `SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'`) == "2"
	})
	before := productReads(t)["postgres-replica-1"]
	next := int64(2000)
	// PgBouncer retires server connections after 10 s; new ones are balanced over both replicas.
	eventually(t, 30*time.Second, "replica-1 serving reads again", func() bool {
		for range 10 {
			getProduct(t, next)
			next++
		}
		return productReads(t)["postgres-replica-1"] > before
	})
}
