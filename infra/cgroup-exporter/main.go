// Command cgroup-exporter exports each container's CPU time and memory, read from the kernel's
// cgroup files, for the stack's "Containers" dashboard. It is a small stand-in for cAdvisor, whose
// command is not a module the Go proxy serves, and which polls every container every second: on
// a two-core laptop that would be a cost the dashboards should show, not add.
//
// Names come from the Docker Engine API (GET /containers/json on its socket, the one request this
// program makes there): only containers of one compose project, labelled by compose service. The
// series keep cAdvisor's and the kubelet's names, so dashboards read the same on Kubernetes.
//
//	container_cpu_usage_seconds_total{service, container}  counter
//	container_memory_working_set_bytes{service, container} gauge: usage minus inactive page cache
//	                                                       (what the kernel would not reclaim first)
//	container_memory_rss_bytes{service, container}         gauge: anonymous memory
//
// Settings (environment): HTTP_ADDR (default :9338), DOCKER_SOCKET (default
// /var/run/docker.sock), CGROUP_ROOT (the host's /sys/fs/cgroup, mounted; default /host/cgroup),
// COMPOSE_PROJECT (default flashcrowd).
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "cgroup-exporter:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv func(string) string) error {
	setting := func(name, fallback string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return fallback
	}
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	docker := newDockerClient(setting("DOCKER_SOCKET", "/var/run/docker.sock"))
	project := setting("COMPOSE_PROJECT", "flashcrowd")
	c := &collector{
		list:   func(ctx context.Context) ([]container, error) { return docker.containers(ctx, project) },
		cgroup: cgroupFS{root: setting("CGROUP_ROOT", "/host/cgroup")},
		log:    log,
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelError)}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	srv := &http.Server{Addr: setting("HTTP_ADDR", ":9338"), Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	ln, err := net.Listen("tcp", srv.Addr)
	if err != nil {
		return err
	}
	log.Info("serving", "addr", ln.Addr().String())
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
