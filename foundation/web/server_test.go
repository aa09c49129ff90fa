package web

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/flashcrowd/flashcrowd/foundation/webtest"
)

// After the signal, the server goes on answering for the unready period with /readyz 503 and
// no keep-alive, so a load balancer stops sending it requests first; then it stops accepting.
func TestServeLeavesUnreadyFirst(t *testing.T) {
	addr := webtest.FreeAddr(t)
	h := http.NewServeMux()
	h.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	h.HandleFunc("/work", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)), addr, h, 500*time.Millisecond, time.Second)
	}()

	get := func(path string) (*http.Response, error) {
		c := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
		r, err := c.Get("http://" + addr + path)
		if err == nil {
			r.Body.Close()
		}
		return r, err
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		if r, err := get("/readyz"); err == nil && r.StatusCode == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the server did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}

	stop()
	time.Sleep(100 * time.Millisecond)
	if r, err := get("/readyz"); err != nil || r.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("/readyz while leaving: %v %v, want 503", r, err)
	}
	// A client that keeps connections alive is told to close this one.
	r, err := (&http.Client{Timeout: time.Second}).Get("http://" + addr + "/work")
	if err == nil {
		r.Body.Close()
	}
	if err != nil || r.StatusCode != http.StatusOK || !r.Close {
		t.Fatalf("a request while leaving: %v %v, want 200 with Connection: close", r, err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := get("/work"); err == nil {
		t.Fatal("still accepting after the unready period and the drain")
	}
}
