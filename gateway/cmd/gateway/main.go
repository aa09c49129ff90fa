// Command gateway is the edge API: HAProxy's edge frontend balances over its instances, and it
// forwards to the internal services. Run "gateway healthcheck" to probe a running instance.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/flashcrowd/flashcrowd/foundation/config"
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
	var cfg Config
	if err := config.Load(&cfg, getenv); err != nil {
		return err
	}
	if len(args) > 1 && args[1] == "healthcheck" {
		return web.Probe(ctx, cfg.HTTPAddr, "/healthz")
	}
	log, err := web.NewLogger(stdout, "gateway", cfg.LogLevel)
	if err != nil {
		return err
	}
	h := httpapi.NewServer(httpapi.Deps{
		Log:        log,
		Registry:   web.NewRegistry(),
		Upstream:   &cfg.UpstreamURL,
		Transport:  httpapi.NewTransport(cfg.ProxyMaxIdleConns),
		AdminToken: cfg.AdminToken,
	})
	return web.Serve(ctx, log, cfg.HTTPAddr, h, cfg.HTTPDrainTimeout)
}
