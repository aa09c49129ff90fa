// Package tasks is the contract between the services that enqueue background work and the
// worker tier that does it: task type names, versioned payloads and their constructors.
// Producers and the worker both import it, so the two can never disagree on a payload.
package tasks

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
)

// TypeThumbnail makes a thumbnail of an uploaded product image.
const TypeThumbnail = "image:thumbnail"

// ThumbnailPayload is version 1 of the thumbnail task's payload.
type ThumbnailPayload struct {
	V         int    `json:"v"`
	ProductID int64  `json:"product_id"`
	Key       string `json:"key"` // the uploaded image's object key
}

// NewThumbnailTask builds the task for the image at key. Its id derives from the key, so
// enqueueing the same upload twice (a client retry) makes one task, not two.
func NewThumbnailTask(productID int64, key string) (*asynq.Task, error) {
	b, err := json.Marshal(ThumbnailPayload{V: 1, ProductID: productID, Key: key})
	if err != nil {
		return nil, fmt.Errorf("thumbnail task: %w", err)
	}
	return asynq.NewTask(TypeThumbnail, b,
		asynq.TaskID("thumbnail:"+key),
		asynq.MaxRetry(5),
		asynq.Timeout(time.Minute),
		asynq.Retention(24*time.Hour), // keeps the result visible to operators and tests
	), nil
}

// ParseThumbnail decodes a thumbnail payload; an unreadable one can never succeed on retry.
func ParseThumbnail(t *asynq.Task) (ThumbnailPayload, error) {
	var p ThumbnailPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return p, fmt.Errorf("thumbnail payload: %v: %w", err, asynq.SkipRetry)
	}
	if p.V != 1 || p.ProductID <= 0 || p.Key == "" {
		return p, fmt.Errorf("thumbnail payload %+v: unsupported or incomplete: %w", p, asynq.SkipRetry)
	}
	return p, nil
}
