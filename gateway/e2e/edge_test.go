//go:build e2e

package e2e

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// What HAProxy's edge promises every client, whatever the client sends.

func TestEdgeGivesEveryRequestItsOwnID(t *testing.T) {
	// A seeded product no test writes: a new one would be purged again 1 s and 5 s after its
	// creation, and the test needs its answers to come from the edge cache.
	const path = "/api/v1/products/42"
	seen := map[string]bool{}
	for i, sent := range []string{"client-chosen-id-1", "", "client-chosen-id-1", "client-chosen-id-2"} {
		header := map[string]string{}
		if sent != "" {
			header["X-Request-ID"] = sent
		}
		r := call(t, http.MethodGet, path, nil, header)
		id := r.header.Get("X-Request-ID")
		if i > 0 && r.header.Get("X-Edge-Cache") != "HIT" {
			t.Fatalf("request %d: X-Edge-Cache %q, want HIT: the test needs cached answers", i, r.header.Get("X-Edge-Cache"))
		}
		switch {
		case id == "":
			t.Errorf("request %d: no X-Request-ID", i)
		case strings.HasPrefix(id, "client-chosen"):
			t.Errorf("request %d: the answer carries a client's id %q", i, id)
		case seen[id]:
			t.Errorf("request %d: id %q was already given to an earlier request", i, id)
		}
		seen[id] = true
	}
	// HAProxy's own answers carry one too.
	if r := call(t, http.MethodGet, "/metrics", nil, nil); r.status != 404 || r.header.Get("X-Request-ID") == "" {
		t.Errorf("edge denial: %d with X-Request-ID %q", r.status, r.header.Get("X-Request-ID"))
	}
}

func TestEdgeForwardsAndLogsTheClientAddress(t *testing.T) {
	since := time.Now().Add(-time.Second).UTC().Format(time.RFC3339Nano)
	const spoofed = "203.0.113.66"
	// A request the edge refuses is logged (only errors and refusals are, to keep load tests cheap).
	r := call(t, http.MethodGet, "/metrics", nil, map[string]string{"X-Forwarded-For": spoofed})
	id := r.header.Get("X-Request-ID")
	if r.status != 404 || id == "" {
		t.Fatalf("GET /metrics at the edge: %d, request id %q", r.status, id)
	}
	// "<client ip>:<port> [date] … {<X-Forwarded-For passed on>} … id=<request id>"
	lineRe := regexp.MustCompile(`^([0-9a-f.:]+):[0-9]+ \[.*\{([^}]*)\}.* id=` + regexp.QuoteMeta(id) + `$`)
	var line string
	eventually(t, 5*time.Second, "the request's line in HAProxy's log", func() bool {
		logs := compose(t, "logs", "--no-color", "--no-log-prefix", "--since", since, "haproxy")
		for _, l := range strings.Split(ansi.ReplaceAllString(logs, ""), "\n") {
			if strings.HasSuffix(strings.TrimSpace(l), "id="+id) {
				line = strings.TrimSpace(l)
				return true
			}
		}
		return false
	})
	m := lineRe.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("log line %q: want the client address first and the X-Forwarded-For captured in braces", line)
	}
	client, forwarded := m[1], m[2]
	if forwarded != client || strings.Contains(line, spoofed) {
		t.Fatalf("the edge passed on X-Forwarded-For %q for client %s (the client sent %s): want the client's address alone\n%s",
			forwarded, client, spoofed, line)
	}
}

// ansi matches the terminal escapes docker compose logs may put in front of a line.
var ansi = regexp.MustCompile(`\x1b\[[0-9;]*[A-Za-z]`)
