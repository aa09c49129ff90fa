// Command asynqmon serves asynqmon, the web UI of the asynq task queues (github.com/hibiken/asynqmon,
// whose built UI is part of its Go module), logged in to Redis as its own ACL user. asynqmon's own
// command (cmd/asynqmon, v0.7.2) can only send a password, which Redis takes for the default
// user's, and this stack turns the default user off; so this is that command, cut down to what
// the stack uses, with a Redis user name. (Queue metrics for Prometheus come from the workers.)
//
// Settings, from the environment: REDIS_ADDR (the queue Redis; default redis-queue:6379),
// REDIS_USER (default asynqmon), REDIS_PASSWORD (required), HTTP_ADDR (default :8080).
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hibiken/asynq"
	"github.com/hibiken/asynqmon"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "asynqmon:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv func(string) string) error {
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	redis := asynq.RedisClientOpt{
		Addr:     env("REDIS_ADDR", "redis-queue:6379"),
		Username: env("REDIS_USER", "asynqmon"),
		Password: getenv("REDIS_PASSWORD"),
	}
	if redis.Password == "" {
		return errors.New("REDIS_PASSWORD must be set: the Redis user's password")
	}
	ui := asynqmon.New(asynqmon.Options{RedisConnOpt: redis})
	defer ui.Close()
	srv := &http.Server{Addr: env("HTTP_ADDR", ":8080"), Handler: ui,
		ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second}

	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	slog.Info("asynqmon listening", "addr", srv.Addr, "redis", redis.Addr, "user", redis.Username)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}
