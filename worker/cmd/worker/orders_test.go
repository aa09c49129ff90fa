package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/emersion/go-smtp"
	"github.com/hibiken/asynq"

	"github.com/flashcrowd/flashcrowd/contracts/tasks"
	"github.com/flashcrowd/flashcrowd/foundation/webtest"
	"github.com/flashcrowd/flashcrowd/worker/webhook"
)

// An order's tasks as the orders service's relay enqueues them (tasks.Outboxed), through the
// whole worker: the confirmation reaches the SMTP server; the event reaches a webhook endpoint
// that fails once (retried after RetryDelay's 1–2 s, not asynq's default 15 s or more), and an
// endpoint answering 410 gets it once and no more (archived).
func TestOrderTasks(t *testing.T) {
	rds := miniredis.RunT(t)
	rds.RequireUserAuth("worker", "dev-queue-password") // the ACL user, as the queue Redis has it
	redisOpt := asynq.RedisClientOpt{Addr: rds.Addr(), Username: "worker", Password: "dev-queue-password"}
	mails := &mailbox{}
	smtpSrv := smtp.NewServer(mails)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go smtpSrv.Serve(l) // returns when the server is closed
	defer smtpSrv.Close()

	var mu sync.Mutex
	posts := map[string][]*http.Request{}
	bodies := map[string][][]byte{}
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		posts[r.URL.Path] = append(posts[r.URL.Path], r)
		bodies[r.URL.Path] = append(bodies[r.URL.Path], b)
		switch {
		case r.URL.Path == "/gone":
			w.WriteHeader(http.StatusGone)
		case len(posts[r.URL.Path]) == 1:
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	defer hook.Close()

	addr := webtest.FreeAddr(t)
	env := map[string]string{
		"FLASHCROWD_ENV": "development", "HTTP_ADDR": addr, "LOG_LEVEL": "error",
		"REDIS_QUEUE_ADDR": rds.Addr(), "REDIS_QUEUE_PASSWORD": "dev-queue-password",
		"S3_ENDPOINT": "http://127.0.0.1:1", "S3_ACCESS_KEY": "worker", "S3_SECRET_KEY": "dev-minio-password",
		"TASK_DRAIN_TIMEOUT": "1s", "CACHE_WARM_PERIOD": "0", "SMTP_ADDR": l.Addr().String(),
		"WEBHOOK_URLS": hook.URL + "/ok," + hook.URL + "/gone", "WEBHOOK_SECRET": "dev-webhook-secret",
	}
	webtest.Start(t, addr, func(ctx context.Context) error {
		return run(ctx, []string{"worker"}, func(k string) string { return env[k] }, &bytes.Buffer{})
	})

	order := tasks.Order{ID: 77, Email: "ada@example.com", Status: "placed", Currency: "EUR", TotalCents: 1299,
		PlacedAt: time.Now(), Lines: []tasks.OrderLine{{ProductID: 1, SKU: "MUG-1", Name: "Mug", Quantity: 1, UnitPriceCents: 1299}}}
	client := asynq.NewClient(redisOpt)
	defer client.Close()
	for i, p := range []struct {
		typ     string
		payload any
	}{
		{tasks.TypeOrderConfirmation, tasks.OrderConfirmationPayload{V: 1, Order: order}},
		{tasks.TypeOrderEvent, tasks.OrderEventPayload{V: 1, ID: "evt-77", Type: tasks.EventOrderCreated, OccurredAt: time.Now(), Order: order}},
	} {
		b, _ := json.Marshal(p.payload)
		task, err := tasks.Outboxed(p.typ, b, int64(i+1))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := client.Enqueue(task); err != nil {
			t.Fatal(err)
		}
	}

	insp := asynq.NewInspector(redisOpt)
	defer insp.Close()
	okID, goneID := "webhook:evt-77:"+hook.URL+"/ok", "webhook:evt-77:"+hook.URL+"/gone"
	// The slowest honest path: the event, its delivery and the delivery's retry are each picked
	// up by a worker that may have just gone idle (taskCheckInterval), the retry waits RetryDelay's
	// 1–2 s (asynq's default is 15 s or more) and up to 5 s for asynq's forwarder to make it due;
	// plus 5 s for a slow machine under -race.
	wait := 3*taskCheckInterval + 2*webhook.BaseDelay + 5*time.Second + 5*time.Second
	deadline := time.Now().Add(wait)
	for {
		ok, _ := insp.GetTaskInfo(tasks.QueueDefault, okID)
		gone, _ := insp.GetTaskInfo(tasks.QueueDefault, goneID)
		if ok != nil && ok.State == asynq.TaskStateCompleted && gone != nil && gone.State == asynq.TaskStateArchived && mails.count() == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: delivery to /ok %+v, to /gone %+v, %d mails", wait, ok, gone, mails.count())
		}
		time.Sleep(100 * time.Millisecond)
	}

	mu.Lock()
	defer mu.Unlock()
	if n := len(posts["/ok"]); n != 2 {
		t.Errorf("/ok got %d POSTs, want 2 (a failure, then its retry)", n)
	}
	if n := len(posts["/gone"]); n != 1 {
		t.Errorf("/gone got %d POSTs, want 1: a 410 is not retried", n)
	}
	for i, r := range posts["/ok"] {
		ts, _ := strconv.ParseInt(r.Header.Get(webhook.HeaderTimestamp), 10, 64)
		if r.Header.Get(webhook.HeaderSignature) != webhook.Sign([]byte("dev-webhook-secret"), ts, bodies["/ok"][i]) {
			t.Errorf("POST %d: bad signature", i)
		}
		var ev tasks.OrderEventPayload
		if err := json.Unmarshal(bodies["/ok"][i], &ev); err != nil || ev.ID != "evt-77" || ev.Order.ID != 77 {
			t.Errorf("POST %d: body %s: %v", i, bodies["/ok"][i], err)
		}
	}
	if got := mails.messages(); !strings.Contains(got[0], "Message-ID: <order-77@flashcrowd.test>") {
		t.Errorf("mail:\n%s", got[0])
	}
}

// mailbox is a minimal SMTP backend that keeps every message.
type mailbox struct {
	mu   sync.Mutex
	msgs []string
}

func (m *mailbox) NewSession(*smtp.Conn) (smtp.Session, error) { return m, nil }
func (m *mailbox) Reset()                                      {}
func (m *mailbox) Logout() error                               { return nil }
func (m *mailbox) Mail(string, *smtp.MailOptions) error        { return nil }
func (m *mailbox) Rcpt(string, *smtp.RcptOptions) error        { return nil }
func (m *mailbox) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.msgs = append(m.msgs, string(b))
	return err
}

func (m *mailbox) count() int { return len(m.messages()) }

func (m *mailbox) messages() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.msgs...)
}
