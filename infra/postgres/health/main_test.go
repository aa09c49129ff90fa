package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestAnswers(t *testing.T) {
	primary := status{}
	freshReplica := status{InRecovery: true, Fresh: true, LagSeconds: 0.5}
	staleReplica := status{InRecovery: true, Fresh: false, LagSeconds: 42}
	for _, tc := range []struct {
		name   string
		s      status
		err    error
		path   string
		want   int
		role   string
		hasLag bool
	}{
		{"primary is primary", primary, nil, "/primary", 200, "primary", true},
		{"primary is no replica", primary, nil, "/replica", 503, "primary", true},
		{"fresh replica serves reads", freshReplica, nil, "/replica", 200, "replica", true},
		{"replica is no primary", freshReplica, nil, "/primary", 503, "replica", true},
		{"stale replica leaves the read pool", staleReplica, nil, "/replica", 503, "replica", true},
		{"stale replica is healthy", staleReplica, nil, "/health", 200, "replica", true},
		{"down: no primary", status{}, errors.New("connection refused"), "/primary", 503, "", false},
		{"down: no replica", status{}, errors.New("connection refused"), "/replica", 503, "", false},
		{"down: not healthy", status{}, errors.New("connection refused"), "/health", 503, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			probe := func(context.Context) (status, error) { return tc.s, tc.err }
			h := handler(probe, slog.New(slog.NewTextHandler(io.Discard, nil)))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tc.path, nil))
			if rec.Code != tc.want {
				t.Fatalf("GET %s: %d, want %d", tc.path, rec.Code, tc.want)
			}
			var body map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q: %v", rec.Body, err)
			}
			if role, _ := body["role"].(string); role != tc.role {
				t.Errorf("role %q, want %q", role, tc.role)
			}
			if _, ok := body["lag_seconds"]; ok != tc.hasLag {
				t.Errorf("lag_seconds present %v, want %v: %v", ok, tc.hasLag, body)
			}
		})
	}
}

func TestOnlyTheThreePathsAndGet(t *testing.T) {
	probe := func(context.Context) (status, error) { return status{}, nil }
	h := handler(probe, slog.New(slog.NewTextHandler(io.Discard, nil)))
	for _, tc := range []struct{ method, path string }{
		{http.MethodGet, "/"}, {http.MethodGet, "/leader"}, {http.MethodPost, "/primary"},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
		if rec.Code != http.StatusNotFound && rec.Code != http.StatusMethodNotAllowed {
			t.Errorf("%s %s: %d, want 404 or 405", tc.method, tc.path, rec.Code)
		}
	}
}

func TestConfig(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	c, err := loadConfig(env(nil))
	if err != nil || c.addr != ":8008" || c.maxLag != 10*time.Second {
		t.Fatalf("defaults: %+v %v", c, err)
	}
	c, err = loadConfig(env(map[string]string{"PG_READ_MAX_LAG_SECONDS": "3", "HTTP_ADDR": ":9"}))
	if err != nil || c.addr != ":9" || c.maxLag != 3*time.Second {
		t.Fatalf("set: %+v %v", c, err)
	}
	for _, bad := range []string{"0", "-1", "1.5", "ten", "3601"} {
		if _, err := loadConfig(env(map[string]string{"PG_READ_MAX_LAG_SECONDS": bad})); err == nil {
			t.Errorf("PG_READ_MAX_LAG_SECONDS=%s accepted", bad)
		}
	}
}

// The healthcheck client asks the agent on this host's port and passes its verdict on.
func TestCheck(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/primary" {
			w.WriteHeader(http.StatusOK)
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.Listener = ln
	srv.Start()
	defer srv.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	env := func(k string) string {
		if k == "HTTP_ADDR" {
			return ":" + port
		}
		return ""
	}
	var stderr strings.Builder
	if code := check(env, "primary", &stderr); code != 0 {
		t.Errorf("primary: exit %d, want 0 (%s)", code, stderr.String())
	}
	if code := check(env, "replica", &stderr); code != 1 {
		t.Errorf("replica: exit %d, want 1", code)
	}
	srv.Close()
	if code := check(env, "primary", &stderr); code != 1 {
		t.Errorf("no agent: exit %d, want 1", code)
	}
}

// With no database to reach, the agent still serves, and says so: 503, not a hang or a crash.
func TestServesWithoutTheDatabase(t *testing.T) {
	env := func(k string) string {
		return map[string]string{"HTTP_ADDR": "127.0.0.1:0", "PGHOST": "127.0.0.1", "PGPORT": "1", "PGCONNECT_TIMEOUT": "1"}[k]
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, env, io.Discard, ready) }()
	addr := <-ready
	res, err := http.Get("http://" + addr + "/health")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("GET /health with no database: %d, want 503", res.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run: %v", err)
	}
}
