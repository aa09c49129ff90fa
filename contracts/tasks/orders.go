package tasks

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
)

// Order tasks. The orders service never enqueues them directly: it writes an outbox row in the
// order's own transaction, and its relay turns committed rows into tasks (Outboxed). So a task
// exists only for an order that committed, and no order loses its task to a Redis outage.
const (
	// TypeOrderConfirmation emails the customer a summary of the order they placed.
	TypeOrderConfirmation = "order:confirmation"
	// TypeOrderEvent is an order's state change (created, cancelled); the worker fans it out
	// into one TypeWebhookDelivery per configured endpoint.
	TypeOrderEvent = "order:event"
	// TypeWebhookDelivery POSTs one event to one endpoint, signed, with retries; one that
	// exhausts its retries is archived (the dead-letter queue asynqmon shows).
	TypeWebhookDelivery = "webhook:delivery"
)

// OutboxTypes are the task types Outboxed knows.
var OutboxTypes = []string{TypeOrderConfirmation, TypeOrderEvent}

// Queues: confirmation emails go first when the worker is busy; webhooks wait their turn.
const (
	QueueCritical = "critical"
	QueueDefault  = "default"
)

// Order event types, in OrderEventPayload.Type.
const (
	EventOrderCreated   = "order.created"
	EventOrderCancelled = "order.cancelled"
)

// OrderLine is one line of an order, at the price captured at checkout.
type OrderLine struct {
	ProductID      int64  `json:"product_id"`
	SKU            string `json:"sku"`
	Name           string `json:"name"`
	Quantity       int32  `json:"quantity"`
	UnitPriceCents int64  `json:"unit_price_cents"`
}

// Order is the order as the tasks see it: everything an email or a webhook needs, so the
// worker never reads the orders database.
type Order struct {
	ID         int64       `json:"id"`
	Email      string      `json:"email"`
	Status     string      `json:"status"`
	Currency   string      `json:"currency"`
	TotalCents int64       `json:"total_cents"`
	Lines      []OrderLine `json:"lines"`
	PlacedAt   time.Time   `json:"placed_at"`
}

// OrderConfirmationPayload is version 1 of the confirmation email's payload.
type OrderConfirmationPayload struct {
	V     int   `json:"v"`
	Order Order `json:"order"`
}

// OrderEventPayload is version 1 of an order event: also the body each webhook receives.
type OrderEventPayload struct {
	V          int       `json:"v"`
	ID         string    `json:"id"` // unique per event: receivers deduplicate on it
	Type       string    `json:"type"`
	OccurredAt time.Time `json:"occurred_at"`
	Order      Order     `json:"order"`
}

// WebhookDeliveryPayload is version 1 of one delivery: the event's exact bytes, to one URL.
type WebhookDeliveryPayload struct {
	V       int             `json:"v"`
	EventID string          `json:"event_id"`
	URL     string          `json:"url"`
	Body    json.RawMessage `json:"body"`
}

// Outboxed turns a committed outbox row into its task. The task id derives from the row's id,
// so a relay that enqueued a row and died before deleting it cannot enqueue it twice: the
// second attempt fails with asynq.ErrTaskIDConflict, which the relay treats as done.
func Outboxed(typ string, payload []byte, outboxID int64) (*asynq.Task, error) {
	id := asynq.TaskID(fmt.Sprintf("outbox:%d", outboxID))
	// Kept after completion so that the id stays taken (see above) and operators can look.
	keep := asynq.Retention(24 * time.Hour)
	switch typ {
	case TypeOrderConfirmation:
		return asynq.NewTask(typ, payload, id, keep, asynq.Queue(QueueCritical),
			asynq.MaxRetry(20), asynq.Timeout(30*time.Second)), nil
	case TypeOrderEvent:
		return asynq.NewTask(typ, payload, id, keep, asynq.Queue(QueueDefault),
			asynq.MaxRetry(20), asynq.Timeout(30*time.Second)), nil
	}
	return nil, fmt.Errorf("outbox row %d: unknown task type %q", outboxID, typ)
}

// NewWebhookDelivery builds one delivery of an event. Its id derives from the event and the
// URL, so fanning an event out twice (a retried order:event) delivers it once per endpoint.
func NewWebhookDelivery(p WebhookDeliveryPayload, maxRetry int) (*asynq.Task, error) {
	p.V = 1
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("webhook delivery: %w", err)
	}
	return asynq.NewTask(TypeWebhookDelivery, b,
		asynq.TaskID("webhook:"+p.EventID+":"+p.URL),
		asynq.Queue(QueueDefault),
		asynq.MaxRetry(maxRetry),
		asynq.Timeout(15*time.Second),
		asynq.Retention(24*time.Hour),
	), nil
}

// Parse decodes a version 1 payload of any task above; an unreadable one can never succeed on
// retry, so it skips the retries.
func Parse[P OrderConfirmationPayload | OrderEventPayload | WebhookDeliveryPayload](t *asynq.Task) (P, error) {
	var p P
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return p, fmt.Errorf("%s payload: %v: %w", t.Type(), err, asynq.SkipRetry)
	}
	var v int
	switch x := any(p).(type) {
	case OrderConfirmationPayload:
		v = x.V
	case OrderEventPayload:
		v = x.V
	case WebhookDeliveryPayload:
		v = x.V
	}
	if v != 1 {
		return p, fmt.Errorf("%s payload version %d: unsupported: %w", t.Type(), v, asynq.SkipRetry)
	}
	return p, nil
}
