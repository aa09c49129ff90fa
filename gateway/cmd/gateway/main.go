// Command gateway is the edge API: HAProxy's edge frontend balances over its instances, and it
// forwards to the internal services. Run "gateway healthcheck" to probe a running instance.
package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/flashcrowd/flashcrowd/foundation/env"
	"github.com/flashcrowd/flashcrowd/foundation/web"
	"github.com/flashcrowd/flashcrowd/gateway/httpapi"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "gateway:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	e := env.New(getenv)
	httpAddr := e.String("HTTP_ADDR", ":8080")
	if len(args) > 1 && args[1] == "healthcheck" {
		return web.Probe(ctx, httpAddr, "/healthz")
	}
	var (
		logLevel    = e.String("LOG_LEVEL", "info")
		upstreamRaw = e.String("UPSTREAM_URL", "http://haproxy:8081")
		adminToken  = e.Required("ADMIN_TOKEN")
		maxIdle     = e.Int("PROXY_MAX_IDLE_CONNS", 512, 2, 100_000)
		drain       = e.Duration("SHUTDOWN_TIMEOUT", 10*time.Second)
	)
	if err := e.Err(); err != nil {
		return err
	}
	upstream, err := url.Parse(upstreamRaw)
	if err != nil || upstream.Host == "" {
		return fmt.Errorf("configuration: UPSTREAM_URL=%q: want http://host:port", upstreamRaw)
	}
	if len(adminToken) < 16 {
		return fmt.Errorf("configuration: ADMIN_TOKEN must be at least 16 characters")
	}
	log, err := web.NewLogger(stdout, "gateway", logLevel)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	h := httpapi.NewServer(httpapi.Deps{
		Log:        log,
		Metrics:    web.NewMetrics(reg),
		Upstream:   upstream,
		Transport:  httpapi.NewTransport(maxIdle),
		AdminToken: adminToken,
		Scrape:     promhttp.HandlerFor(reg, promhttp.HandlerOpts{}),
	})
	return web.Serve(ctx, log, httpAddr, h, drain, nil)
}
