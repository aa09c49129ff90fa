package web

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"time"
)

// Debug is the profiling listener's setting; each server binary embeds it in its Config.
type Debug struct {
	DebugAddr string `env:"DEBUG_ADDR" desc:"Listen address of Go's profiles (net/http/pprof: make profile takes a CPU profile there), apart from HTTP_ADDR so that no load balancer route reaches them. Empty: no such listener."`
}

// maxProfile bounds one profile request (pprof refuses seconds beyond the WriteTimeout).
const maxProfile = 5 * time.Minute

// ServeDebug serves Go's profiles on addr until ctx is cancelled, in the background; an empty
// addr serves nothing. A profile costs only while one is being taken. A failure to listen is
// logged, not fatal: the service works without its profiles.
func ServeDebug(ctx context.Context, logger *slog.Logger, addr string) {
	if addr == "" {
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{
		Addr:              addr,
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		WriteTimeout:      maxProfile + 10*time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	go func() {
		if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Warn("profiles not served", "addr", addr, "err", err)
		}
	}()
}
