package db

import (
	"context"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// Two pools on one registry must not collide (pgxpool connects lazily, so no server is needed).
func TestPoolsShareOneRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	for _, role := range []Role{Primary, Replica} {
		p, err := Open(context.Background(), "postgres://u:p@127.0.0.1:1/db", role, 3, m)
		if err != nil {
			t.Fatalf("%s: %v", role, err)
		}
		defer p.Close()
	}
	want := `
# HELP flashcrowd_db_pool_connections Connections in this instance's pool by state (acquired, idle) and its maximum.
# TYPE flashcrowd_db_pool_connections gauge
flashcrowd_db_pool_connections{role="primary",state="acquired"} 0
flashcrowd_db_pool_connections{role="primary",state="idle"} 0
flashcrowd_db_pool_connections{role="primary",state="max"} 3
flashcrowd_db_pool_connections{role="replica",state="acquired"} 0
flashcrowd_db_pool_connections{role="replica",state="idle"} 0
flashcrowd_db_pool_connections{role="replica",state="max"} 3
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "flashcrowd_db_pool_connections"); err != nil {
		t.Fatal(err)
	}
}
