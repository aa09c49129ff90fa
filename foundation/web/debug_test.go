package web

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/flashcrowd/flashcrowd/foundation/webtest"
)

func TestServeDebugServesProfilesUntilCancelled(t *testing.T) {
	addr := webtest.FreeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	ServeDebug(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)), addr)

	url := "http://" + addr + "/debug/pprof/cmdline"
	var (
		res *http.Response
		err error
	)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if res, err = http.Get(url); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d, want 200", url, res.StatusCode)
	}

	cancel()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return // closed
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("the profile listener still accepts connections after its context ended")
		}
	}
}
