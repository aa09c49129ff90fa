//go:build e2e

package e2e

import (
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// readOnlyRoot lists the services whose root file system must be read-only: everything they
// write goes to a volume or a tmpfs (compose.yaml).
var readOnlyRoot = []string{
	"haproxy", "gateway", "catalog", "worker", "migrate", "pgbouncer-1", "pgbouncer-2",
	"postgres-1", "postgres-2", "postgres-3", "etcd", "redis", "redis-queue", "minio", "prometheus",
	"postgres-exporter-1", "postgres-exporter-2", "postgres-exporter-3",
	"pgbouncer-exporter-1", "pgbouncer-exporter-2", "redis-exporter",
	"orders", "migrate-orders", "mailpit", "asynqmon", "webhook-sink", "victoriametrics", "cgroup-exporter",
	"edge-cert", "alertmanager",
}

// capsAdded lists the capabilities a service may add back after dropping them all: none
// needs one. Every image but the cgroup exporter's runs as an unprivileged user (it is root, with
// no capabilities, only to open the Docker socket), and all bind ports above 1024.
var capsAdded = map[string][]string{}

func TestEveryContainerIsConfinedAndBounded(t *testing.T) {
	ids := strings.Fields(compose(t, "ps", "--all", "--quiet")) // migrate and edge-cert have exited: they count too
	out, err := exec.Command("docker", append([]string{"inspect"}, ids...)...).Output()
	if err != nil {
		t.Fatalf("docker inspect: %v", err)
	}
	var containers []struct {
		Name       string
		Config     struct{ Labels map[string]string }
		HostConfig struct {
			SecurityOpt, CapDrop, CapAdd []string
			Memory                       int64
			ReadonlyRootfs               bool
		}
	}
	if err := json.Unmarshal(out, &containers); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, c := range containers {
		service, h := c.Config.Labels["com.docker.compose.service"], c.HostConfig
		seen[service] = true
		if !slices.Contains(h.SecurityOpt, "no-new-privileges:true") && !slices.Contains(h.SecurityOpt, "no-new-privileges") {
			t.Errorf("%s: security options %v, want no-new-privileges", c.Name, h.SecurityOpt)
		}
		if !slices.ContainsFunc(h.CapDrop, func(c string) bool { return strings.EqualFold(c, "ALL") || strings.EqualFold(c, "CAP_ALL") }) {
			t.Errorf("%s: drops capabilities %v, want ALL", c.Name, h.CapDrop)
		}
		for _, cap := range h.CapAdd {
			if !slices.Contains(capsAdded[service], cap) {
				t.Errorf("%s: adds capability %s", c.Name, cap)
			}
		}
		if h.Memory <= 0 {
			t.Errorf("%s: no memory limit", c.Name)
		}
		if slices.Contains(readOnlyRoot, service) && !h.ReadonlyRootfs {
			t.Errorf("%s: the root file system is writable", c.Name)
		}
	}
	for _, service := range readOnlyRoot {
		if !seen[service] {
			t.Errorf("no container of service %s is running", service)
		}
	}
}
