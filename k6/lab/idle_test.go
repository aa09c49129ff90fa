package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEngineCPUCountsTheEngineAndItsReapedChildren(t *testing.T) {
	proc := t.TempDir()
	// utime stime cutime cstime are the 14th to 17th fields; comm may hold spaces and parentheses.
	for pid, stat := range map[string]string{
		"10": "10 (dockerd) S 1 10 10 0 -1 4194560 0 0 0 0 300 100 0 0 20 0 1 0",
		"11": "11 (containerd-shim) S 1 11 11 0 -1 4194560 0 0 0 0 5 5 40 10 20 0 1 0",
		"12": "12 (postgres) S 1 12 12 0 -1 4194560 0 0 0 0 900 900 0 0 20 0 1 0",
		"13": "13 (a (dockerd) b) S 1 13 13 0 -1 4194560 0 0 0 0 900 900 0 0 20 0 1 0",
	} {
		if err := os.MkdirAll(filepath.Join(proc, pid), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(proc, pid, "stat"), []byte(stat), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, ok := engineCPU(proc)
	if !ok || got != 4.6 { // (300+100) + (5+5+40+10) ticks at 100 per second
		t.Fatalf("engineCPU = %v, %v; want 4.6 s", got, ok)
	}
	if _, ok := engineCPU(filepath.Join(proc, "nothing")); ok {
		t.Fatal("engineCPU found processes where there is no /proc")
	}
}

func TestRenderIdleJudgesTheTotalAgainstTheBudget(t *testing.T) {
	out := renderIdle(map[string]float64{"postgres-1": 3, "redis": 0.6}, 1.2, true, 60, 10)
	for _, want := range []string{"postgres-1                     5.00", "(docker engine)                2.00", "the stack                      8.00  within the idle budget of 10 %"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	if out := renderIdle(map[string]float64{"postgres-1": 9}, 0, false, 60, 10); !strings.Contains(out, "OVER") || !strings.Contains(out, "n/a") {
		t.Errorf("15 %% without the engine's figure should be OVER with n/a for the engine:\n%s", out)
	}
}
