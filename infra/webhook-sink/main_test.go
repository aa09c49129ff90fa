package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

const testSecret = "test-webhook-secret"

// start runs the sink on a free port, as main does, and returns its base URL.
func start(t *testing.T, env map[string]string) string {
	t.Helper()
	env["HTTP_ADDR"] = "127.0.0.1:0"
	if _, ok := env["WEBHOOK_SECRET"]; !ok {
		env["WEBHOOK_SECRET"] = testSecret
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan string, 1), make(chan error, 1)
	go func() { done <- run(ctx, func(k string) string { return env[k] }, io.Discard, ready) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	select {
	case addr := <-ready:
		base := "http://" + addr
		if resp, err := http.Get(base + "/healthz"); err != nil || resp.StatusCode != 200 {
			t.Fatalf("healthz: %v %v", resp, err)
		}
		return base
	case err := <-done:
		t.Fatalf("run: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("not listening after 5 s")
	}
	return ""
}

func sign(secret, ts string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "." + string(body)))
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// deliver POSTs body to /hooks signed with secret ("" sends no signature) and returns the status.
func deliver(t *testing.T, base, secret, eventID string, body []byte) int {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/hooks", bytes.NewReader(body))
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(headerEventID, eventID)
	req.Header.Set(headerTimestamp, ts)
	if secret != "" {
		req.Header.Set(headerSignature, sign(secret, ts, body))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func post(t *testing.T, url, body string) int {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// get decodes the JSON that GET path answers into v.
func get(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func list(t *testing.T, base string) []delivery {
	var d []delivery
	get(t, base+"/deliveries", &d)
	return d
}

func counts(t *testing.T, base string) stats {
	var s stats
	get(t, base+"/stats", &s)
	return s
}

func TestDeliveriesAreRecordedAndVerified(t *testing.T) {
	base := start(t, map[string]string{})
	body := []byte(`{"type":"order.created","order":{"id":7}}`)
	if got := deliver(t, base, testSecret, "e1", body); got != 204 {
		t.Errorf("signed delivery: %d, want 204", got)
	}
	if got := deliver(t, base, "another-secret", "e2", body); got != 401 {
		t.Errorf("delivery signed with another key: %d, want 401", got)
	}
	if got := deliver(t, base, "", "e3", body); got != 401 {
		t.Errorf("unsigned delivery: %d, want 401", got)
	}
	if got := deliver(t, base, testSecret, "e4", []byte("not json")); got != 204 {
		t.Errorf("signed delivery of text: %d, want 204", got)
	}
	d := list(t, base)
	if len(d) != 4 || counts(t, base).Received != 4 {
		t.Fatalf("listed %d deliveries (received %d), want 4", len(d), counts(t, base).Received)
	}
	first := d[0]
	if first.EventID != "e1" || !first.SignatureValid || string(first.Body) != string(body) || first.Status != 204 ||
		first.Headers["Content-Type"] != "application/json" || first.TimestampAgeSeconds == nil {
		t.Errorf("first delivery recorded as %+v", first)
	}
	if d[1].SignatureValid || d[2].SignatureValid {
		t.Error("a delivery with a wrong or no signature is recorded as valid")
	}
	if d[3].Body != nil || d[3].BodyText != "not json" {
		t.Errorf("a text body recorded as body %q, body_text %q", d[3].Body, d[3].BodyText)
	}
}

func TestFailMakesTheNextDeliveriesFailThenReset(t *testing.T) {
	base := start(t, map[string]string{})
	if got := post(t, base+"/fail", `{"status":503,"count":2}`); got != 200 {
		t.Fatalf("POST /fail: %d", got)
	}
	var got []int
	for i := range 3 {
		got = append(got, deliver(t, base, testSecret, "e"+strconv.Itoa(i), []byte(`{}`)))
	}
	if got[0] != 503 || got[1] != 503 || got[2] != 204 {
		t.Errorf("statuses %v, want [503 503 204]", got)
	}
	if post(t, base+"/reset", ""); len(list(t, base)) != 0 {
		t.Error("deliveries listed after POST /reset")
	}
}

func TestFailRefusesBadRequests(t *testing.T) {
	base := start(t, map[string]string{})
	for body, want := range map[string]int{
		`{"status":200,"count":1}`:  422,
		`{"status":500,"count":-1}`: 422,
		`{"status":500`:             400,
		`{"status":500,"x":1}`:      400,
		`[]`:                        400,
	} {
		if got := post(t, base+"/fail", body); got != want {
			t.Errorf("POST /fail %s: %d, want %d", body, got, want)
		}
	}
}

func TestOnlyTheLastDeliveriesAreKept(t *testing.T) {
	base := start(t, map[string]string{"MAX_DELIVERIES": "2"})
	for i := range 5 {
		deliver(t, base, testSecret, strconv.Itoa(i), []byte(`{}`))
	}
	d, s := list(t, base), counts(t, base)
	if len(d) != 2 || s.Dropped != 3 || s.Received != 5 || d[0].EventID != "3" {
		t.Errorf("kept %d (first %q), dropped %d, received %d; want 2 (first \"3\"), 3, 5",
			len(d), d[0].EventID, s.Dropped, s.Received)
	}
}

func TestConfigIsChecked(t *testing.T) {
	for _, env := range []map[string]string{
		{"WEBHOOK_SECRET": ""},
		{"MAX_DELIVERIES": "0"},
		{"MAX_DELIVERIES": "lots"},
	} {
		env["HTTP_ADDR"] = "127.0.0.1:0"
		if _, ok := env["WEBHOOK_SECRET"]; !ok {
			env["WEBHOOK_SECRET"] = testSecret
		}
		if err := run(context.Background(), func(k string) string { return env[k] }, io.Discard, nil); err == nil {
			t.Errorf("run with %v started", env)
		}
	}
}
