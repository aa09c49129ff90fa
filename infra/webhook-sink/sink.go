package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"sync"
	"time"
)

// Headers of a delivery, as the worker sends them (worker/webhooks and contracts/tasks).
const (
	headerEventID   = "X-Flashcrowd-Event-Id"
	headerTimestamp = "X-Flashcrowd-Timestamp"
	headerSignature = "X-Flashcrowd-Signature"
)

// maxBody is the most of a body kept per delivery; a longer one is cut (and marked so).
const maxBody = 16 << 10

// delivery is one POST to /hooks as it arrived, and what the sink answered.
type delivery struct {
	Seq        int64             `json:"seq"`
	ReceivedAt time.Time         `json:"received_at"`
	EventID    string            `json:"event_id"`
	Headers    map[string]string `json:"headers"`
	// Body is the body itself when it is JSON (an order event is), so a reader decodes it
	// directly; any other body is in BodyText.
	Body           json.RawMessage `json:"body,omitempty"`
	BodyText       string          `json:"body_text,omitempty"`
	BodyTruncated  bool            `json:"body_truncated,omitempty"`
	SignatureValid bool            `json:"signature_valid"`
	// How old the signed timestamp was on arrival: a receiver refuses old ones (replays).
	TimestampAgeSeconds *int64 `json:"timestamp_age_seconds,omitempty"`
	Status              int    `json:"status"`
}

// sink keeps the last `keep` deliveries and the failures still to answer.
type sink struct {
	secret []byte
	keep   int
	now    func() time.Time

	mu         sync.Mutex
	seq        int64
	deliveries []delivery // oldest first, at most keep
	dropped    int64      // forgotten because more than keep arrived
	failStatus int
	failCount  int
}

func newSink(secret string, keep int, now func() time.Time) *sink {
	return &sink{secret: []byte(secret), keep: keep, now: now}
}

// verify reports whether sig is "sha256=" + hex(HMAC-SHA256(secret, timestamp + "." + body)).
func (s *sink) verify(timestamp, sig string, body []byte) bool {
	if timestamp == "" || len(sig) < len("sha256=") || sig[:len("sha256=")] != "sha256=" {
		return false
	}
	got, err := hex.DecodeString(sig[len("sha256="):])
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, s.secret)
	mac.Write([]byte(timestamp))
	mac.Write([]byte("."))
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}

// receive records a delivery and decides its answer: a failure asked for with /fail comes first
// (the sender must retry it whatever it carried), then 401 for a bad signature, else 204.
func (s *sink) receive(d delivery, body []byte, truncated bool) delivery {
	now := s.now()
	d.ReceivedAt = now
	d.SignatureValid = !truncated && s.verify(d.Headers[headerTimestamp], d.Headers[headerSignature], body)
	if ts, err := strconv.ParseInt(d.Headers[headerTimestamp], 10, 64); err == nil {
		age := now.Unix() - ts
		d.TimestampAgeSeconds = &age
	}
	if !truncated && json.Valid(body) {
		d.Body = json.RawMessage(body)
	} else {
		d.BodyText, d.BodyTruncated = string(body), truncated
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.failCount > 0:
		s.failCount--
		d.Status = s.failStatus
	case !d.SignatureValid:
		d.Status = 401
	default:
		d.Status = 204
	}
	s.seq++
	d.Seq = s.seq
	if len(s.deliveries) == s.keep {
		// Shift rather than a ring: keep is small and the copy happens only when full.
		copy(s.deliveries, s.deliveries[1:])
		s.deliveries = s.deliveries[:len(s.deliveries)-1]
		s.dropped++
	}
	s.deliveries = append(s.deliveries, d)
	return d
}

// failNext makes the next count deliveries answer status (count 0 stops failing).
func (s *sink) failNext(status, count int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failStatus, s.failCount = status, count
}

func (s *sink) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deliveries, s.dropped, s.failStatus, s.failCount = nil, 0, 0, 0
}

// list is what GET /deliveries answers: the deliveries kept, oldest first.
func (s *sink) list() []delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]delivery{}, s.deliveries...)
}

// stats is what GET /stats answers.
type stats struct {
	// Received counts every delivery since the last reset; Dropped those no longer listed.
	Received int64 `json:"received"`
	Dropped  int64 `json:"dropped"`
	// Failing is how many of the next deliveries will get FailStatus.
	Failing    int `json:"failing"`
	FailStatus int `json:"fail_status,omitempty"`
}

func (s *sink) stats() stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := stats{Received: int64(len(s.deliveries)) + s.dropped, Dropped: s.dropped, Failing: s.failCount}
	if s.failCount > 0 {
		out.FailStatus = s.failStatus
	}
	return out
}
