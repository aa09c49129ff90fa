//go:build e2e

package e2e

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"io"
	"net/http"
	"regexp"
	"strconv"
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

// testPNG is a small image to upload.
func testPNG(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, 8, 8))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestMediaServesOnlyPublishedObjectsAndUploadForms(t *testing.T) {
	p := createProduct(t, map[string]any{"name": "Media kettle"})
	up := grant(t, int(p.ID), "image/png")
	img := testPNG(t)
	if r := up.post(t, img); r.status != http.StatusNoContent {
		t.Fatalf("upload through the edge: %d %s", r.status, r.body)
	}
	r := call(t, http.MethodPut, fmt.Sprintf("/api/v1/admin/products/%d/image", p.ID), map[string]string{"key": up.Key}, admin())
	if r.status != http.StatusOK {
		t.Fatalf("attach: %d %s", r.status, r.body)
	}
	var attached product
	r.json(t, &attached)
	object := strings.TrimPrefix(attached.ImageURL, baseURL) // /media/products/<id>/<name>.png

	secure := func(what string, r response) {
		t.Helper()
		if got := r.header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s: X-Content-Type-Options %q, want nosniff", what, got)
		}
		if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "sandbox") {
			t.Errorf("%s: Content-Security-Policy %q, want default-src 'none' and sandbox", what, csp)
		}
	}
	// The published object, twice: the second answer may come from the edge cache.
	for i := range 2 {
		r := call(t, http.MethodGet, object, nil, nil)
		if r.status != http.StatusOK || !bytes.Equal(r.body, img) {
			t.Fatalf("GET %s: %d, %d bytes", object, r.status, len(r.body))
		}
		secure(fmt.Sprintf("GET %s (%d, X-Edge-Cache %s)", object, i+1, r.header.Get("X-Edge-Cache")), r)
	}
	if r := call(t, http.MethodHead, object, nil, nil); r.status != http.StatusOK {
		t.Errorf("HEAD %s: %d", object, r.status)
	}

	// Everything else stops at HAProxy: MinIO would answer with an X-Amz-Request-Id, and its own
	// refusals are not enough (a listing or a policy is one bucket setting away from public).
	refused := []struct{ method, path string }{
		{http.MethodGet, "/media/"},
		{http.MethodGet, "/media/?list-type=2"},
		{http.MethodGet, "/media/?list-type=2&prefix=products/"},
		{http.MethodGet, "/media/?policy"},
		{http.MethodGet, "/media/?acl"},
		{http.MethodGet, "/media/?location"},
		{http.MethodHead, "/media/"},
		{http.MethodGet, "/media/thumbs/"},
		{http.MethodGet, "/media/other/" + up.Key},
		{http.MethodGet, object + "?acl"},
		{http.MethodGet, object + "?tagging"},
		{http.MethodGet, "/media/" + up.Key}, // an upload, never public
		{http.MethodGet, "/media/products/../?policy"},
		{http.MethodGet, "/media/products/%2e%2e/"},
		{http.MethodGet, "/media/products//" + strings.TrimPrefix(object, "/media/products/")},
		{http.MethodPut, "/media/?policy"},
		{http.MethodPut, object}, // uploads are form POSTs
		{http.MethodPut, "/media/" + up.Key},
		{http.MethodDelete, object},
		{http.MethodDelete, "/media/?policy"},
		{http.MethodPost, "/media/?delete"},
		{http.MethodPost, object + "?uploads"},
		{http.MethodPost, object},    // a form goes to the bucket itself
		{http.MethodPost, "/media/"}, // not a form
		{http.MethodOptions, object},
	}
	for _, rf := range refused {
		var body any
		if rf.method == http.MethodPut || rf.method == http.MethodPost {
			body = []byte("x") // sent as application/json, never a form
		}
		r := call(t, rf.method, rf.path, body, nil)
		what := rf.method + " " + rf.path
		if r.status != 403 && r.status != 404 && r.status != 405 {
			t.Errorf("%s: %d, want 403, 404 or 405", what, r.status)
		}
		if r.header.Get("X-Amz-Request-Id") != "" || r.header.Get("Server") == "MinIO" {
			t.Errorf("%s: answered by MinIO (%d), want HAProxy to refuse it", what, r.status)
		}
		secure(what, r)
	}
	if r := call(t, http.MethodGet, object, nil, nil); r.status != http.StatusOK {
		t.Fatalf("the image after the refused calls: %d", r.status)
	}
}

// The edge times every answer into a histogram (cache hits included) that the stats port
// serves: its buckets are cumulative, and each answer counts once in +Inf.
func TestEdgeAnswerTimesAreAHistogram(t *testing.T) {
	stats := "http://127.0.0.1:" + getenv("HAPROXY_STATS_PORT", "8404") + "/edge-latency"
	read := func() (buckets []float64, count float64) {
		t.Helper()
		res, err := http.Get(stats)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") {
			t.Fatalf("GET %s: %d %q", stats, res.StatusCode, res.Header.Get("Content-Type"))
		}
		for _, line := range strings.Split(string(body), "\n") {
			name, value, ok := strings.Cut(line, " ")
			if !ok || strings.HasPrefix(line, "#") {
				continue
			}
			v, err := strconv.ParseFloat(value, 64)
			if err != nil {
				t.Fatalf("%q: %v", line, err)
			}
			switch {
			case strings.HasPrefix(name, "haproxy_edge_answer_duration_seconds_bucket{"):
				buckets = append(buckets, v)
			case name == "haproxy_edge_answer_duration_seconds_count":
				count = v
			}
		}
		if len(buckets) != 11 {
			t.Fatalf("%d buckets, want 11:\n%s", len(buckets), body)
		}
		for i := 1; i < len(buckets); i++ {
			if buckets[i] < buckets[i-1] {
				t.Fatalf("bucket %d (%v) below the one before (%v): not cumulative", i, buckets[i], buckets[i-1])
			}
		}
		if buckets[len(buckets)-1] != count {
			t.Fatalf("+Inf %v, count %v", buckets[len(buckets)-1], count)
		}
		return buckets, count
	}
	_, before := read()
	const n = 5
	for range n {
		call(t, http.MethodGet, "/api/v1/products/3", nil, nil) // a miss, then cache hits
	}
	_, after := read()
	// Other tests' requests may land meanwhile: at least these.
	if after-before < n {
		t.Fatalf("count went from %v to %v after %d answers", before, after, n)
	}
}
