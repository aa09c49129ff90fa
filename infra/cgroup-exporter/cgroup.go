package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// stats is one container's figures.
type stats struct {
	cpuSeconds, workingSet, rss float64
}

// cgroupFS reads a container's figures under the host's cgroup mount, in whichever layout
// Docker made: cgroup v1 (controllers in separate trees, docker/<id>) or v2 (one tree; the
// systemd driver's system.slice/docker-<id>.scope or the cgroupfs driver's docker/<id>).
type cgroupFS struct{ root string }

func (c cgroupFS) read(id string) (stats, error) {
	if dir := filepath.Join(c.root, "cpuacct", "docker", id); exists(dir) {
		return c.readV1(id)
	}
	for _, dir := range []string{
		filepath.Join(c.root, "system.slice", "docker-"+id+".scope"),
		filepath.Join(c.root, "docker", id),
	} {
		if exists(filepath.Join(dir, "cpu.stat")) {
			return readV2(dir)
		}
	}
	return stats{}, fmt.Errorf("no cgroup found for container %s under %s", id, c.root)
}

func (c cgroupFS) readV1(id string) (stats, error) {
	usage, err := readNumber(filepath.Join(c.root, "cpuacct", "docker", id, "cpuacct.usage")) // nanoseconds
	if err != nil {
		return stats{}, err
	}
	mem := filepath.Join(c.root, "memory", "docker", id)
	used, err := readNumber(filepath.Join(mem, "memory.usage_in_bytes"))
	if err != nil {
		return stats{}, err
	}
	fields, err := readKeyed(filepath.Join(mem, "memory.stat"))
	if err != nil {
		return stats{}, err
	}
	return stats{
		cpuSeconds: usage / 1e9,
		workingSet: max(0, used-fields["total_inactive_file"]),
		rss:        fields["total_rss"],
	}, nil
}

func readV2(dir string) (stats, error) {
	cpu, err := readKeyed(filepath.Join(dir, "cpu.stat"))
	if err != nil {
		return stats{}, err
	}
	used, err := readNumber(filepath.Join(dir, "memory.current"))
	if err != nil {
		return stats{}, err
	}
	mem, err := readKeyed(filepath.Join(dir, "memory.stat"))
	if err != nil {
		return stats{}, err
	}
	return stats{
		cpuSeconds: cpu["usage_usec"] / 1e6,
		workingSet: max(0, used-mem["inactive_file"]),
		rss:        mem["anon"],
	}, nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// readNumber reads a file holding one number.
func readNumber(path string) (float64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.ParseFloat(string(bytes.TrimSpace(b)), 64)
}

// readKeyed reads a file of "name value" lines (memory.stat, cpu.stat).
func readKeyed(path string) (map[string]float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]float64{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		k, v, ok := bytes.Cut(s.Bytes(), []byte{' '})
		if !ok {
			continue
		}
		n, err := strconv.ParseFloat(string(v), 64)
		if err != nil {
			return nil, fmt.Errorf("%s: %q: %w", path, s.Text(), err)
		}
		out[string(k)] = n
	}
	if err := s.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, errors.New(path + ": empty")
	}
	return out, nil
}
