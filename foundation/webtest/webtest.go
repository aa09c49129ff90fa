// Package webtest helps tests start a binary's real run() and talk to it.
package webtest

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"
)

// FreeAddr returns a loopback address with a port that was free a moment ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Start runs run in the background with a context it cancels at the end of the test, waits until
// http://addr/healthz answers 200, and checks at the end that run returned nil once cancelled.
func Start(t testing.TB, addr string, run func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	stopped := false // run returned before it was healthy: nothing is left to wait for
	t.Cleanup(func() {
		cancel()
		if stopped {
			return
		}
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run returned %v after cancel", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("run did not return within 30 s of cancel")
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-done:
			stopped = true
			t.Fatalf("run stopped before it was healthy: %v", err)
		default:
		}
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("http://%s/healthz not 200 within 30 s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
