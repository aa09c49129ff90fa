package main

// Where the CPU went: each container's cumulative CPU time, read from the Docker Engine API just
// before and just after a browse run, divided by the run's requests. On one machine every layer
// spends the same cores, so this is what decides how far a mode can go.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"time"
)

// cpuSnapshot is CPU seconds used so far by each running container of the project, by id.
type cpuSnapshot map[string]containerCPU

type containerCPU struct {
	Service string  `json:"service"`
	Seconds float64 `json:"seconds"`
}

// dockerClient talks to the Engine API at DOCKER_HOST (unix:// only), by default the usual socket.
func dockerClient(host string) (*http.Client, error) {
	if host == "" {
		host = "unix:///var/run/docker.sock"
	}
	path, ok := strings.CutPrefix(host, "unix://")
	if !ok {
		return nil, fmt.Errorf("DOCKER_HOST %q: only a unix:// socket is supported", host)
	}
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", path)
		}},
	}, nil
}

// getJSON GETs an unversioned Engine API path (the daemon answers in its own version, so this
// works with old and new engines alike) and decodes the answer into v.
func getJSON(ctx context.Context, c *http.Client, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://docker"+path, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("docker API: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("docker API %s: %s: %s", path, resp.Status, strings.TrimSpace(string(b)))
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// snapshotCPU reads every running service container of project. One-off containers (k6 itself,
// `compose run`) are left out: the table is about the stack.
func snapshotCPU(ctx context.Context, c *http.Client, project string) (cpuSnapshot, error) {
	filters, _ := json.Marshal(map[string][]string{"label": {"com.docker.compose.project=" + project}})
	var list []struct {
		ID     string            `json:"Id"`
		Labels map[string]string `json:"Labels"`
	}
	if err := getJSON(ctx, c, "/containers/json?filters="+url.QueryEscape(string(filters)), &list); err != nil {
		return nil, err
	}
	snap := cpuSnapshot{}
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		errs []error
	)
	for _, ct := range list {
		if ct.Labels["com.docker.compose.oneoff"] == "True" {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var stats struct {
				CPU struct {
					Usage struct {
						Total uint64 `json:"total_usage"` // nanoseconds
					} `json:"cpu_usage"`
				} `json:"cpu_stats"`
			}
			// one-shot: the current counters, without waiting a second for a second sample.
			err := getJSON(ctx, c, "/containers/"+ct.ID+"/stats?stream=false&one-shot=true", &stats)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			snap[ct.ID] = containerCPU{Service: ct.Labels["com.docker.compose.service"], Seconds: float64(stats.CPU.Usage.Total) / 1e9}
		}()
	}
	wg.Wait()
	if len(snap) == 0 && len(errs) == 0 {
		return nil, fmt.Errorf("no running containers of project %q", project)
	}
	return snap, errors.Join(errs...)
}

// cpuUsed is CPU seconds per service between two snapshots, over the containers in both (one
// that restarted in between counts from zero again, and is left out rather than misread).
func cpuUsed(before, after cpuSnapshot) map[string]float64 {
	used := map[string]float64{}
	for id, a := range after {
		if b, ok := before[id]; ok && a.Seconds >= b.Seconds {
			used[a.Service] += a.Seconds - b.Seconds
		}
	}
	return used
}

func readSnapshot(path string) (cpuSnapshot, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var s cpuSnapshot
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// cpuCommand is `lab cpu`: print a snapshot as JSON, for k6/lab.sh to keep beside a run.
func cpuCommand(ctx context.Context, args []string, stdout io.Writer) error {
	c, err := dockerClient(os.Getenv("DOCKER_HOST"))
	if err != nil {
		return err
	}
	project := "flashcrowd"
	if len(args) > 0 {
		project = args[0]
	}
	snap, err := snapshotCPU(ctx, c, project)
	if err != nil {
		return err
	}
	return json.NewEncoder(stdout).Encode(snap)
}

// cpuRows names every service of either mode, by the CPU it used per request in the mode where
// it used more, most first.
func cpuRows(base, full map[string]float64) []string {
	seen := map[string]bool{}
	var names []string
	for _, m := range []map[string]float64{base, full} {
		for s := range m {
			if !seen[s] {
				seen[s] = true
				names = append(names, s)
			}
		}
	}
	sort.Slice(names, func(i, j int) bool {
		a, b := max(base[names[i]], full[names[i]]), max(base[names[j]], full[names[j]])
		if a != b {
			return a > b
		}
		return names[i] < names[j]
	})
	return names
}
