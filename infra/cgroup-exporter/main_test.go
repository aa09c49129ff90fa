package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A v1 tree (Docker's cgroupfs driver) for container aaa and a v2 systemd-driver one for bbb.
func fakeHost(t *testing.T) string {
	root := t.TempDir()
	write(t, filepath.Join(root, "cpuacct/docker/aaa/cpuacct.usage"), "2500000000\n")
	write(t, filepath.Join(root, "memory/docker/aaa/memory.usage_in_bytes"), "10000\n")
	write(t, filepath.Join(root, "memory/docker/aaa/memory.stat"),
		"cache 4000\nrss 5000\ninactive_file 1000\ntotal_rss 6000\ntotal_inactive_file 3000\n")
	write(t, filepath.Join(root, "system.slice/docker-bbb.scope/cpu.stat"), "usage_usec 1500000\nuser_usec 1000000\n")
	write(t, filepath.Join(root, "system.slice/docker-bbb.scope/memory.current"), "8000\n")
	write(t, filepath.Join(root, "system.slice/docker-bbb.scope/memory.stat"), "anon 7000\nfile 900\ninactive_file 500\n")
	return root
}

func TestCollectReadsBothCgroupLayouts(t *testing.T) {
	c := &collector{
		list: func(context.Context) ([]container, error) {
			return []container{
				{id: "aaa", name: "flashcrowd-gateway-1", service: "gateway"},
				{id: "bbb", name: "flashcrowd-redis-1", service: "redis"},
				{id: "gone", name: "flashcrowd-old-1", service: "old"}, // stopped since the list: skipped
			}, nil
		},
		cgroup: cgroupFS{root: fakeHost(t)},
		log:    slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	want := `
# HELP container_cpu_usage_seconds_total CPU time the container's processes used, user and system.
# TYPE container_cpu_usage_seconds_total counter
container_cpu_usage_seconds_total{container="flashcrowd-gateway-1",service="gateway"} 2.5
container_cpu_usage_seconds_total{container="flashcrowd-redis-1",service="redis"} 1.5
# HELP container_memory_working_set_bytes Memory the container uses, less the page cache the kernel may reclaim first.
# TYPE container_memory_working_set_bytes gauge
container_memory_working_set_bytes{container="flashcrowd-gateway-1",service="gateway"} 7000
container_memory_working_set_bytes{container="flashcrowd-redis-1",service="redis"} 7500
# HELP container_memory_rss_bytes Anonymous memory of the container's processes (heaps, stacks).
# TYPE container_memory_rss_bytes gauge
container_memory_rss_bytes{container="flashcrowd-gateway-1",service="gateway"} 6000
container_memory_rss_bytes{container="flashcrowd-redis-1",service="redis"} 7000
# HELP container_exporter_docker_up 1 when the last scrape could list the containers from Docker, else 0.
# TYPE container_exporter_docker_up gauge
container_exporter_docker_up 1
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
}

func TestCollectWithoutDockerSaysSo(t *testing.T) {
	c := &collector{
		list:   func(context.Context) ([]container, error) { return nil, errors.New("no socket") },
		cgroup: cgroupFS{root: t.TempDir()},
		log:    slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	want := `
# HELP container_exporter_docker_up 1 when the last scrape could list the containers from Docker, else 0.
# TYPE container_exporter_docker_up gauge
container_exporter_docker_up 0
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
}

func TestDecodeContainers(t *testing.T) {
	got, err := decodeContainers(strings.NewReader(`[
	  {"Id": "0123456789abcdef", "Names": ["/flashcrowd-catalog-2"], "Labels": {"com.docker.compose.service": "catalog"}},
	  {"Id": "fedcba9876543210", "Names": [], "Labels": {}}
	]`))
	if err != nil {
		t.Fatal(err)
	}
	want := []container{
		{id: "0123456789abcdef", name: "flashcrowd-catalog-2", service: "catalog"},
		{id: "fedcba9876543210", name: "fedcba987654", service: "fedcba987654"},
	}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if _, err := decodeContainers(strings.NewReader(`{"message": "oops"}`)); err == nil {
		t.Fatal("an error document decoded as a list")
	}
}
