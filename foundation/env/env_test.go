package env

import (
	"strings"
	"testing"
	"time"
)

func TestReader(t *testing.T) {
	vars := map[string]string{"PORT": "8080", "BAD_INT": "x", "BIG": "500", "WAIT": "2s", "FLAG": "true", "BAD_DUR": "soon"}
	r := New(func(k string) string { return vars[k] })

	if got := r.String("MISSING", "def"); got != "def" {
		t.Errorf("String default = %q", got)
	}
	if got := r.Int("PORT", 1, 1, 65535); got != 8080 {
		t.Errorf("Int = %d", got)
	}
	if got := r.Duration("WAIT", time.Second); got != 2*time.Second {
		t.Errorf("Duration = %v", got)
	}
	if !r.Bool("FLAG", false) {
		t.Error("Bool = false")
	}
	if err := r.Err(); err != nil {
		t.Fatalf("no errors expected yet, got %v", err)
	}

	r.Int("BAD_INT", 1, 0, 10)
	r.Int("BIG", 1, 0, 10)
	r.Duration("BAD_DUR", 0)
	r.Required("SECRET")
	err := r.Err()
	if err == nil {
		t.Fatal("expected errors")
	}
	for _, name := range []string{"BAD_INT", "BIG", "BAD_DUR", "SECRET"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not name %s", err, name)
		}
	}
}
