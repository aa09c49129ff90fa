package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// Serve runs h on addr until ctx is cancelled (SIGTERM), then leaves without dropping a request:
// for unready it goes on serving but answers /readyz 503 and closes each connection after its
// answer, so the load balancer stops sending it requests (HAProxy: two failed checks, within 3 s)
// and opens no new ones here; then it stops accepting and gives in-flight requests up to drain
// to finish. An instance no load balancer checks passes unready 0.
func Serve(ctx context.Context, logger *slog.Logger, addr string, h http.Handler, unready, drain time.Duration) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	var leaving atomic.Bool
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if leaving.Load() && r.URL.Path == "/readyz" {
				WriteProblem(w, r, NewProblem(http.StatusServiceUnavailable, "shutting down"))
				return
			}
			h.ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	logger.Info("listening", "addr", ln.Addr().String())

	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	if unready > 0 {
		logger.Info("leaving: not ready, still serving", "for", unready.String())
		leaving.Store(true)
		srv.SetKeepAlivesEnabled(false)
		time.Sleep(unready)
	}
	logger.Info("shutting down", "drain", drain.String())
	sctx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}
