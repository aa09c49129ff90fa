package db

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

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

// The waits below run in a synctest bubble: its clock moves only when every goroutine in it
// waits, so a wait of seconds takes none, and still follows the same timers.

func TestWaitForRetriesUntilItWorks(t *testing.T) {
	synctest.Test(t, testWaitForRetriesUntilItWorks)
}

func testWaitForRetriesUntilItWorks(t *testing.T) {
	calls := 0
	err := WaitFor(context.Background(), 5*time.Second, func(context.Context) error {
		calls++
		if calls < 3 {
			return errors.New("not yet")
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Fatalf("err %v after %d calls, want nil after 3", err, calls)
	}
}

func TestWaitForGivesUpWithTheLastError(t *testing.T) {
	synctest.Test(t, testWaitForGivesUpWithTheLastError)
}

func testWaitForGivesUpWithTheLastError(t *testing.T) {
	calls := 0
	start := time.Now()
	err := WaitFor(context.Background(), 2*time.Second, func(context.Context) error {
		calls++
		return fmt.Errorf("attempt %d", calls)
	})
	if err == nil || err.Error() != fmt.Sprintf("attempt %d", calls) || calls < 2 {
		t.Fatalf("err %v after %d calls, want the last attempt's error after at least 2", err, calls)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("gave up after %v, want about 2 s", took)
	}
}

func TestWaitForStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := WaitFor(ctx, time.Minute, func(context.Context) error { return errors.New("down") })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want it to carry context.Canceled", err)
	}
}
