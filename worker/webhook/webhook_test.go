package webhook

import (
	"context"
	"crypto/hmac"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/hibiken/asynq"

	"github.com/flashcrowd/flashcrowd/contracts/tasks"
)

const secret = "dev-webhook-secret"

func delivery(t *testing.T, url string) *asynq.Task {
	t.Helper()
	b, err := json.Marshal(tasks.WebhookDeliveryPayload{V: 1, EventID: "evt-1", URL: url, Body: json.RawMessage(`{"id":"evt-1","type":"order.created"}`)})
	if err != nil {
		t.Fatal(err)
	}
	return asynq.NewTask(tasks.TypeWebhookDelivery, b)
}

// A receiver can verify what it gets, as the design says: the signature over timestamp "." body.
func TestDeliveryIsSignedAndVerifiable(t *testing.T) {
	var got http.Header
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, body = r.Header.Clone(), must(io.ReadAll(r.Body))
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	d := NewDeliverer([]string{srv.URL}, secret, time.Second)
	d.now = func() time.Time { return time.Unix(1_800_000_000, 0) }
	if err := d.ProcessTask(context.Background(), delivery(t, srv.URL)); err != nil {
		t.Fatal(err)
	}
	if string(body) != `{"id":"evt-1","type":"order.created"}` {
		t.Errorf("body %s", body)
	}
	if got.Get(HeaderEventID) != "evt-1" || got.Get(HeaderTimestamp) != "1800000000" || got.Get("Content-Type") != "application/json" {
		t.Errorf("headers %v", got)
	}
	// The receiver's side, written out rather than calling Sign.
	ts, _ := strconv.ParseInt(got.Get(HeaderTimestamp), 10, 64)
	want := Sign([]byte(secret), ts, body)
	if !hmac.Equal([]byte(got.Get(HeaderSignature)), []byte(want)) {
		t.Errorf("signature %q, want %q", got.Get(HeaderSignature), want)
	}
	// A known vector: printf '1800000000.{}' | openssl dgst -sha256 -hmac dev-webhook-secret
	if s := Sign([]byte(secret), 1_800_000_000, []byte("{}")); s != "sha256=7ee8da1bc089aac623a2442f23971480678e9a3a1e216330e2092334454a5707" {
		t.Errorf("Sign = %s, not what openssl computes", s)
	}
}

func TestDeliveryOutcomes(t *testing.T) {
	for _, tt := range []struct {
		status     int
		retryAfter string
		want       string // ok, retry, skip
		wantAfter  time.Duration
	}{
		{200, "", "ok", 0},
		{202, "", "ok", 0},
		{204, "", "ok", 0},
		{301, "", "retry", 0}, // not followed: the event goes only where it was configured to
		{400, "", "skip", 0},
		{404, "", "skip", 0},
		{410, "", "skip", 0},
		{408, "", "retry", 0},
		{429, "120", "retry", 2 * time.Minute},
		{500, "", "retry", 0},
		{502, "", "retry", 0},
		{503, "soon", "retry", 0}, // an unreadable Retry-After is ignored
	} {
		t.Run(strconv.Itoa(tt.status), func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.retryAfter != "" {
					w.Header().Set("Retry-After", tt.retryAfter)
				}
				if tt.status == 301 {
					w.Header().Set("Location", "http://elsewhere.invalid/")
				}
				w.WriteHeader(tt.status)
			}))
			defer srv.Close()
			err := NewDeliverer([]string{srv.URL}, secret, time.Second).ProcessTask(context.Background(), delivery(t, srv.URL))
			switch {
			case tt.want == "ok" && err != nil:
				t.Fatalf("err = %v, want nil", err)
			case tt.want == "retry" && (err == nil || errors.Is(err, asynq.SkipRetry)):
				t.Fatalf("err = %v, want an error asynq retries", err)
			case tt.want == "skip" && !errors.Is(err, asynq.SkipRetry):
				t.Fatalf("err = %v, want SkipRetry", err)
			}
			var ra *RetryAfterError
			if tt.wantAfter != 0 && (!errors.As(err, &ra) || ra.After != tt.wantAfter) {
				t.Errorf("err = %v, want a retry after %s", err, tt.wantAfter)
			}
		})
	}
}

func TestDeliveryFailures(t *testing.T) {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(500 * time.Millisecond):
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	err := NewDeliverer([]string{slow.URL}, secret, 100*time.Millisecond).ProcessTask(context.Background(), delivery(t, slow.URL))
	if err == nil || errors.Is(err, asynq.SkipRetry) {
		t.Errorf("timeout: err = %v, want an error asynq retries", err)
	}
	// A URL that is not (or no longer) configured gets nothing.
	err = NewDeliverer([]string{"http://127.0.0.1:1/hook"}, secret, time.Second).ProcessTask(context.Background(), delivery(t, slow.URL))
	if !errors.Is(err, asynq.SkipRetry) {
		t.Errorf("unlisted URL: err = %v, want SkipRetry", err)
	}
}

// Several deliveries fail at once when an endpoint goes down: their delays grow, stay under
// the cap and spread out.
func TestRetryDelay(t *testing.T) {
	for n := range 25 {
		lo, hi := time.Duration(1<<62), time.Duration(0)
		for range 200 {
			d := RetryDelay(n, errors.New("503"), nil)
			lo, hi = min(lo, d), max(hi, d)
		}
		want := min(MaxDelay, BaseDelay<<(n+1))
		if lo < want/2 || hi > want {
			t.Errorf("retry %d: delays in [%s, %s], want within [%s, %s]", n, lo, hi, want/2, want)
		}
		if hi-lo < want/4 {
			t.Errorf("retry %d: delays in [%s, %s]: no jitter", n, lo, hi)
		}
	}
	if d := RetryDelay(0, errors.New("x"), nil); d < time.Second || d > 2*time.Second {
		t.Errorf("first retry after %s, want 1 to 2 s", d)
	}
	if d := RetryDelay(1000, errors.New("x"), nil); d > MaxDelay {
		t.Errorf("retry 1000 after %s, over the cap", d)
	}
	if d := RetryDelay(0, &RetryAfterError{After: time.Minute}, nil); d != time.Minute {
		t.Errorf("Retry-After 60: delay %s, want 1m", d)
	}
	if d := RetryDelay(0, &RetryAfterError{After: 24 * time.Hour}, nil); d != MaxDelay {
		t.Errorf("Retry-After a day: delay %s, want the cap", d)
	}
}

// The fan-out enqueues one delivery per URL; run again (a retried order:event), it enqueues none.
func TestFanOut(t *testing.T) {
	rds := miniredis.RunT(t)
	client := asynq.NewClient(asynq.RedisClientOpt{Addr: rds.Addr()})
	defer client.Close()
	insp := asynq.NewInspector(asynq.RedisClientOpt{Addr: rds.Addr()})
	defer insp.Close()
	urls := []string{"http://a.test/hook", "http://b.test/hook"}
	f := &FanOut{Queue: client, URLs: urls, MaxRetry: 8}
	event := []byte(`{"v":1,"id":"evt-9","type":"order.created","occurred_at":"2026-12-01T21:40:00Z","order":{"id":9}}`)
	for range 2 {
		if err := f.ProcessTask(context.Background(), asynq.NewTask(tasks.TypeOrderEvent, event)); err != nil {
			t.Fatal(err)
		}
	}
	pending, err := insp.ListPendingTasks(tasks.QueueDefault)
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != len(urls) {
		t.Fatalf("%d deliveries pending, want %d", len(pending), len(urls))
	}
	for i, info := range pending {
		p, err := tasks.Parse[tasks.WebhookDeliveryPayload](asynq.NewTask(info.Type, info.Payload))
		if err != nil {
			t.Fatal(err)
		}
		if p.EventID != "evt-9" || string(p.Body) != string(event) || info.MaxRetry != 8 {
			t.Errorf("delivery %d: %+v, max retry %d", i, p, info.MaxRetry)
		}
	}
	if err := f.ProcessTask(context.Background(), asynq.NewTask(tasks.TypeOrderEvent, []byte(`{"v":1}`))); !errors.Is(err, asynq.SkipRetry) {
		t.Errorf("event without id: err = %v, want SkipRetry", err)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
