package main

// `lab idle`: what keeping the stack up costs when nobody uses it. CPU over a window (one
// sample says little: scrapes, health checks and polls come every few seconds), per service
// from the containers' cgroups, plus the Docker engine's own processes, which run the health
// checks' `docker exec`s and the published ports' proxies outside any container.

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// engineProcesses are the Docker engine's processes on a Linux host. A health check's `runc
// exec` is a short-lived child of a shim: its CPU lands in the shim's children's times.
var engineProcesses = map[string]bool{
	"dockerd": true, "containerd": true, "containerd-shim": true, "containerd-shim-runc-v2": true, "docker-proxy": true,
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's times: 100 on every Linux platform Go
// supports (the kernel reports it to user space as a fixed ABI value).
const clockTicks = 100

// engineCPU is the CPU seconds the engine's processes and their reaped children have used,
// or false where there is no /proc to read (the engine runs in a VM, as on macOS).
func engineCPU(proc string) (float64, bool) {
	dirs, err := filepath.Glob(filepath.Join(proc, "[0-9]*"))
	if err != nil || len(dirs) == 0 {
		return 0, false
	}
	var ticks uint64
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "stat"))
		if err != nil {
			continue // gone since the glob
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses; it ends at the last ')'.
		s := string(b)
		open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || end < open || !engineProcesses[s[open+1:end]] {
			continue
		}
		f := strings.Fields(s[end+1:])
		// After comm: state is f[0], so utime, stime, cutime, cstime (fields 14–17) are f[11:15].
		if len(f) < 15 {
			continue
		}
		for _, v := range f[11:15] {
			n, _ := strconv.ParseUint(v, 10, 64)
			ticks += n
		}
	}
	return float64(ticks) / clockTicks, true
}

// idleCommand is `lab idle [-for 60s] [project]`: each service's CPU over the window, in % of
// one core, the engine's, and the total against the budget.
func idleCommand(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("idle", flag.ContinueOnError)
	window := fs.Duration("for", time.Minute, "how long to measure")
	budget := fs.Float64("budget", 10, "the idle budget, % of one core")
	if err := fs.Parse(args); err != nil {
		return err
	}
	project := "flashcrowd"
	if fs.NArg() > 0 {
		project = fs.Arg(0)
	}
	c, err := dockerClient(os.Getenv("DOCKER_HOST"))
	if err != nil {
		return err
	}
	before, err := snapshotCPU(ctx, c, project)
	if err != nil {
		return err
	}
	engine0, haveEngine := engineCPU("/proc")
	start := time.Now()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(*window):
	}
	// The engine's figure ends before the second snapshot: answering thirty stats requests
	// costs the engine a few tenths of a percent of the minute: the measurement's own cost.
	engine1, _ := engineCPU("/proc")
	secs := time.Since(start).Seconds()
	after, err := snapshotCPU(ctx, c, project)
	if err != nil {
		return err
	}
	fmt.Fprint(stdout, renderIdle(cpuUsed(before, after), engine1-engine0, haveEngine, secs, *budget))
	return nil
}

// renderIdle is the table: each row's CPU seconds as % of one core over secs.
func renderIdle(used map[string]float64, engine float64, haveEngine bool, secs, budget float64) string {
	names := make([]string, 0, len(used))
	total := 0.0
	for s, v := range used {
		names = append(names, s)
		total += v
	}
	sort.Slice(names, func(i, j int) bool {
		if used[names[i]] != used[names[j]] {
			return used[names[i]] > used[names[j]]
		}
		return names[i] < names[j]
	})
	pct := func(v float64) float64 { return 100 * v / secs }
	var b strings.Builder
	fmt.Fprintf(&b, "CPU over %.0f s, %% of one core\n", secs)
	for _, s := range names {
		fmt.Fprintf(&b, "  %-28s %6.2f\n", s, pct(used[s]))
	}
	if haveEngine {
		fmt.Fprintf(&b, "  %-28s %6.2f\n", "(docker engine)", pct(engine))
		total += engine
	} else {
		fmt.Fprintf(&b, "  %-28s %6s\n", "(docker engine)", "n/a") // in a VM: not visible from here
	}
	verdict := "within"
	if pct(total) > budget {
		verdict = "OVER"
	}
	fmt.Fprintf(&b, "  %-28s %6.2f  %s the idle budget of %.0f %%\n", "the stack", pct(total), verdict, budget)
	return b.String()
}
