// Package web is the HTTP plumbing every Flashcrowd service shares: problem+json errors, JSON
// encoding and decoding, the middleware stack (request ids, logs, metrics, panics), health
// endpoints and a server that shuts down gracefully. It holds no business rules.
package web

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
)

// Problem is an RFC 9457 problem detail. Handlers return it as an error; Fail writes it.
type Problem struct {
	Type      string            `json:"type"`
	Title     string            `json:"title"`
	Status    int               `json:"status"`
	Detail    string            `json:"detail,omitempty"`
	Instance  string            `json:"instance,omitempty"`
	RequestID string            `json:"request_id,omitempty"`
	Errors    map[string]string `json:"errors,omitempty"` // field → what is wrong with it
	// RetryAfter, when above 0, is sent as the Retry-After header (seconds): for a 503 or 429
	// whose cause is likely gone by then.
	RetryAfter int `json:"-"`
}

func (p *Problem) Error() string { return fmt.Sprintf("%d %s: %s", p.Status, p.Title, p.Detail) }

// NewProblem makes a problem for status with a human-readable detail.
func NewProblem(status int, format string, args ...any) *Problem {
	return &Problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: fmt.Sprintf(format, args...)}
}

// Invalid is the 422 problem for a request that parsed but failed validation.
func Invalid(fields map[string]string) *Problem {
	p := NewProblem(http.StatusUnprocessableEntity, "the request has invalid fields")
	p.Errors = fields
	return p
}

// WriteProblem writes p as application/problem+json.
func WriteProblem(w http.ResponseWriter, r *http.Request, p *Problem) {
	out := *p
	out.Instance = r.URL.Path
	out.RequestID = RequestID(r.Context())
	if out.Type == "" {
		out.Type = "about:blank"
	}
	w.Header().Set("Cache-Control", CachePrivate)
	if out.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(out.RetryAfter))
	}
	writeJSON(w, out.Status, "application/problem+json", out)
}

// Fail answers a request that failed with err: a *Problem is written as it is; anything else is
// logged with the request id and answered with a 500 that leaks no detail.
func Fail(w http.ResponseWriter, r *http.Request, err error) {
	var p *Problem
	if errors.As(err, &p) {
		WriteProblem(w, r, p)
		return
	}
	Log(r.Context()).Error("request failed", "err", err)
	WriteProblem(w, r, NewProblem(http.StatusInternalServerError, "the server could not complete the request"))
}
