// Package webhook delivers order events to the configured endpoints: it fans an event out into
// one delivery task per endpoint, POSTs each signed, and spaces the retries of the failed ones.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/hibiken/asynq"

	"github.com/flashcrowd/flashcrowd/contracts/tasks"
)

// The headers of a delivery. A receiver recomputes the signature over the timestamp and the
// raw body, compares it in constant time, and refuses an old timestamp (a replay).
const (
	HeaderEventID   = "X-Flashcrowd-Event-Id"
	HeaderTimestamp = "X-Flashcrowd-Timestamp"
	HeaderSignature = "X-Flashcrowd-Signature"
)

// Sign returns the X-Flashcrowd-Signature of body sent at unix time ts:
// "sha256=" + hex(HMAC-SHA256(secret, ts + "." + body)).
func Sign(secret []byte, ts int64, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(strconv.AppendInt(nil, ts, 10))
	m.Write([]byte("."))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Enqueuer is the part of asynq.Client the fan-out uses.
type Enqueuer interface {
	EnqueueContext(ctx context.Context, t *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error)
}

// FanOut handles order:event tasks: one webhook:delivery per endpoint, each with its own
// retries, so a dead endpoint delays no other.
type FanOut struct {
	Queue    Enqueuer
	URLs     []string
	MaxRetry int
}

// ProcessTask implements asynq.Handler. A delivery's task id derives from the event and the
// URL, so when a fan-out is retried after a partial failure the deliveries already enqueued
// conflict and are skipped: each endpoint gets the event once.
func (f *FanOut) ProcessTask(ctx context.Context, t *asynq.Task) error {
	p, err := tasks.Parse[tasks.OrderEventPayload](t)
	if err != nil {
		return err
	}
	if p.ID == "" {
		return fmt.Errorf("order event without an id: %w", asynq.SkipRetry)
	}
	var errs []error
	for _, u := range f.URLs {
		// The body is the event as the orders service wrote it: what receivers get.
		d, err := tasks.NewWebhookDelivery(tasks.WebhookDeliveryPayload{EventID: p.ID, URL: u, Body: t.Payload()}, f.MaxRetry)
		if err != nil {
			return fmt.Errorf("event %s: %v: %w", p.ID, err, asynq.SkipRetry)
		}
		if _, err := f.Queue.EnqueueContext(ctx, d); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
			errs = append(errs, fmt.Errorf("enqueue delivery of event %s to %s: %w", p.ID, u, err))
		}
	}
	return errors.Join(errs...)
}

// Deliverer handles webhook:delivery tasks: one signed POST.
type Deliverer struct {
	client  *http.Client
	secret  []byte
	allowed map[string]bool
	now     func() time.Time
}

// NewDeliverer POSTs to urls, and only to them: a delivery to a URL no longer configured is
// dropped, so whoever can write to the queue cannot have the worker sign a POST to any host.
func NewDeliverer(urls []string, secret string, timeout time.Duration) *Deliverer {
	allowed := make(map[string]bool, len(urls))
	for _, u := range urls {
		allowed[u] = true
	}
	return &Deliverer{
		client: &http.Client{
			Timeout: timeout,
			// A redirect would send the signed event somewhere nobody configured: it counts as a
			// failed delivery instead.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		secret:  []byte(secret),
		allowed: allowed,
		now:     time.Now,
	}
}

// ProcessTask implements asynq.Handler. 2xx: delivered. 408, 429, 5xx, 3xx or no answer: an
// error, so asynq retries it (RetryDelay spaces the retries) and archives it after the last.
// Any other 4xx: the endpoint refuses this event for good, archived at once (asynq.SkipRetry).
func (d *Deliverer) ProcessTask(ctx context.Context, t *asynq.Task) error {
	p, err := tasks.Parse[tasks.WebhookDeliveryPayload](t)
	if err != nil {
		return err
	}
	if !d.allowed[p.URL] {
		return fmt.Errorf("event %s: %s is not in WEBHOOK_URLS: %w", p.EventID, p.URL, asynq.SkipRetry)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL, bytes.NewReader(p.Body))
	if err != nil {
		return fmt.Errorf("event %s to %s: %v: %w", p.EventID, p.URL, err, asynq.SkipRetry)
	}
	ts := d.now().Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Flashcrowd-Webhooks/1")
	req.Header.Set(HeaderEventID, p.EventID)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, Sign(d.secret, ts, p.Body))
	resp, err := d.client.Do(req)
	if err != nil {
		return fmt.Errorf("event %s to %s: %w", p.EventID, p.URL, err)
	}
	// Read a little of the body so the connection can be reused, never all of it.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return nil
	case code >= 400 && code < 500 && code != http.StatusRequestTimeout && code != http.StatusTooManyRequests:
		return fmt.Errorf("event %s to %s: status %d: %w", p.EventID, p.URL, code, asynq.SkipRetry)
	default:
		err := fmt.Errorf("event %s to %s: status %d", p.EventID, p.URL, code)
		if after, ok := retryAfter(resp.Header.Get("Retry-After"), d.now()); ok {
			return &RetryAfterError{After: after, Err: err}
		}
		return err
	}
}

// RetryAfterError is a failed delivery whose endpoint said when to come back (Retry-After on
// a 429 or 503); RetryDelay waits at least that long, within MaxDelay.
type RetryAfterError struct {
	After time.Duration
	Err   error
}

func (e *RetryAfterError) Error() string { return fmt.Sprintf("%v (retry after %s)", e.Err, e.After) }
func (e *RetryAfterError) Unwrap() error { return e.Err }

// retryAfter reads a Retry-After header: seconds, or an HTTP date.
func retryAfter(h string, now time.Time) (time.Duration, bool) {
	if h == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(h); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if at, err := http.ParseTime(h); err == nil && at.After(now) {
		return at.Sub(now), true
	}
	return 0, false
}

// The retry delays of deliveries: 1 s doubling, never above MaxDelay.
const (
	BaseDelay = time.Second
	MaxDelay  = 10 * time.Minute
)

// RetryDelay is the asynq RetryDelayFunc of webhook deliveries. After the nth retry (n from 0)
// it waits a random time in [d/2, d], d = min(MaxDelay, BaseDelay·2^(n+1)): so 1–2 s, then
// 2–4 s, 4–8 s… up to 5–10 min. The randomness (jitter) spreads the retries of the many
// deliveries that failed together when an endpoint went down, so they do not all come back at
// the same instant. An endpoint's Retry-After is honoured, up to MaxDelay.
func RetryDelay(n int, err error, _ *asynq.Task) time.Duration {
	d := MaxDelay
	if n >= 0 && n < 30 { // beyond, the shift would overflow; MaxDelay is long reached
		d = min(MaxDelay, BaseDelay<<(n+1))
	}
	d = d/2 + rand.N(d/2+1)
	var ra *RetryAfterError
	if errors.As(err, &ra) && ra.After > d {
		d = min(ra.After, MaxDelay)
	}
	return d
}
