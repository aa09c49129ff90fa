// Command webhook-sink is the stack's webhook receiver, a stand-in for a merchant's endpoint: it
// records every delivery the worker POSTs to /hooks (headers, body, whether the signature
// verifies) and can be told to fail the next deliveries, so the worker's retries and its dead
// letters can be shown and tested. Everything is kept in memory, a bounded number of deliveries.
//
//	POST /hooks        a delivery: 204, or 401 when the signature does not verify, or the failure asked for
//	GET  /deliveries   what it got, oldest first: a JSON array (a JSON body as itself, see delivery)
//	GET  /stats        how many it got, how many it forgot, how many failures are still to answer
//	POST /fail         {"status": 500, "count": 3}: answer the next 3 deliveries with 500
//	POST /reset        forget every delivery and any failure asked for
//	GET  /healthz      200 while it runs
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv, os.Stdout, nil); err != nil {
		fmt.Fprintln(os.Stderr, "webhook-sink:", err)
		os.Exit(1)
	}
}

// config is every setting, from the environment.
type config struct {
	addr   string // HTTP_ADDR, default :8080
	secret string // WEBHOOK_SECRET: the key the senders sign with (required)
	keep   int    // MAX_DELIVERIES, default 1000: the oldest are forgotten beyond it
}

func loadConfig(getenv func(string) string) (config, error) {
	c := config{addr: getenv("HTTP_ADDR"), secret: getenv("WEBHOOK_SECRET"), keep: 1000}
	if c.addr == "" {
		c.addr = ":8080"
	}
	if c.secret == "" {
		return c, errors.New("WEBHOOK_SECRET must be set: the sink verifies each delivery's signature with it")
	}
	if v := getenv("MAX_DELIVERIES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100_000 {
			return c, fmt.Errorf("MAX_DELIVERIES=%q: want a whole number from 1 to 100000", v)
		}
		c.keep = n
	}
	return c, nil
}

// run serves until ctx ends, then drains. ready, when not nil, receives the listening address.
func run(ctx context.Context, getenv func(string) string, stdout io.Writer, ready chan<- string) error {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(stdout, nil))
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           newServer(newSink(cfg.secret, cfg.keep, time.Now), log),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("listening", "addr", ln.Addr().String(), "max_deliveries", cfg.keep)
	if ready != nil {
		ready <- ln.Addr().String()
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}
