package web

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sort"
	"time"
)

// Check reports whether one dependency is reachable.
type Check func(ctx context.Context) error

// Healthz answers 200 while the process can serve HTTP at all (liveness).
func Healthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		Respond(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}

// Readyz answers 200 when every check passes within a short deadline, else 503 (readiness: the
// load balancer stops routing here until it recovers). The answer says only ready or not: which
// dependency failed, and why, names internal hosts, so it goes to the log instead.
func Readyz(checks map[string]Check) http.Handler {
	names := make([]string, 0, len(checks))
	for name := range checks {
		names = append(names, name)
	}
	sort.Strings(names)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		ready := true
		for _, name := range names {
			if err := checks[name](ctx); err != nil {
				Log(r.Context()).Warn("not ready", "check", name, "err", err)
				ready = false
			}
		}
		if !ready {
			WriteProblem(w, r, NewProblem(http.StatusServiceUnavailable, "not ready"))
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		Respond(w, http.StatusOK, map[string]string{"status": "ready"})
	})
}

// Probe GETs path on this host's listener at addr (":8080" or "0.0.0.0:8080") and fails unless
// it answers 200. Binaries run it as their container healthcheck, so minimal images need no
// shell or curl.
func Probe(ctx context.Context, addr, path string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("probe: listen address %q: %w", addr, err)
	}
	url := "http://" + net.JoinHostPort("127.0.0.1", port) + path
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("probe: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("probe: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("probe %s: status %d", url, resp.StatusCode)
	}
	return nil
}
