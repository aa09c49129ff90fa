package web

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
)

type widget struct {
	Name  string `json:"name"`
	Price int64  `json:"price"`
}

func (w widget) Valid() map[string]string {
	if w.Price < 0 {
		return map[string]string{"price": "must not be negative"}
	}
	return nil
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name, contentType, body string
		want                    int // 0 means decoded without a problem
	}{
		{"valid", "application/json", `{"name":"x","price":3}`, 0},
		{"no content type", "", `{"name":"x"}`, 0},
		{"malformed", "application/json", `{"name":`, http.StatusBadRequest},
		{"syntax", "application/json", `{"name" "x"}`, http.StatusBadRequest},
		{"wrong type", "application/json", `{"price":"cheap"}`, http.StatusBadRequest},
		{"unknown field", "application/json", `{"colour":"red"}`, http.StatusBadRequest},
		{"empty", "application/json", ``, http.StatusBadRequest},
		{"two objects", "application/json", `{} {}`, http.StatusBadRequest},
		{"invalid utf-8", "application/json", "{\"name\":\"\xff\xfe\"}", http.StatusBadRequest},
		{"too large", "application/json", `{"name":"` + strings.Repeat("a", MaxBodyBytes) + `"}`, http.StatusRequestEntityTooLarge},
		{"not json", "text/plain", `{}`, http.StatusUnsupportedMediaType},
		{"invalid", "application/json", `{"price":-1}`, http.StatusUnprocessableEntity},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tt.body))
			if tt.contentType != "" {
				r.Header.Set("Content-Type", tt.contentType)
			}
			var v widget
			err := Decode(httptest.NewRecorder(), r, &v)
			if tt.want == 0 {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			p, ok := err.(*Problem)
			if !ok {
				t.Fatalf("error %v is not a *Problem", err)
			}
			if p.Status != tt.want {
				t.Fatalf("status = %d, want %d (%s)", p.Status, tt.want, p.Detail)
			}
		})
	}
}

func TestStackAnswersPanicsAndErrorsWithProblems(t *testing.T) {
	r := chi.NewRouter()
	r.Use(Stack(slog.New(slog.NewTextHandler(io.Discard, nil)), NewMetrics(prometheus.NewRegistry())))
	r.Get("/panic", func(http.ResponseWriter, *http.Request) { panic("boom") })
	r.Get("/fail", func(w http.ResponseWriter, r *http.Request) { Fail(w, r, io.ErrUnexpectedEOF) })
	r.Get("/gone", func(w http.ResponseWriter, r *http.Request) {
		Fail(w, r, NewProblem(http.StatusNotFound, "no such thing"))
	})

	for path, want := range map[string]int{"/panic": 500, "/fail": 500, "/gone": 404} {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set(RequestIDHeader, "abc-123")
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("%s: status %d, want %d", path, rec.Code, want)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
			t.Errorf("%s: content type %q", path, ct)
		}
		var p Problem
		if err := json.NewDecoder(rec.Body).Decode(&p); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if p.RequestID != "abc-123" || rec.Header().Get(RequestIDHeader) != "abc-123" {
			t.Errorf("%s: request id not carried: body %q header %q", path, p.RequestID, rec.Header().Get(RequestIDHeader))
		}
		if want == 500 && strings.Contains(p.Detail, "unexpected EOF") {
			t.Errorf("%s: 500 leaks the internal error: %q", path, p.Detail)
		}
	}
}

func TestRequestIDRejectsJunk(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set(RequestIDHeader, "bad id with spaces\n")
	if id := requestIDFrom(r); id == "bad id with spaces\n" || len(id) != 24 {
		t.Fatalf("got %q, want a fresh 24-char id", id)
	}
}
