package main

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
)

// newServer lists the whole API.
func newServer(s *sink, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST /hooks", handleHook(s, log))
	mux.Handle("GET /deliveries", handleDeliveries(s))
	mux.Handle("GET /stats", handleStats(s))
	mux.Handle("POST /fail", handleFail(s, log))
	mux.Handle("POST /reset", handleReset(s, log))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	return mux
}

func handleHook(s *sink, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// One byte more than is kept tells a cut body from one of exactly maxBody bytes; the
		// rest is read and thrown away, so the sender sees its whole body taken.
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		if err != nil {
			problem(w, http.StatusBadRequest, "reading the body: "+err.Error())
			return
		}
		truncated := len(body) > maxBody
		if truncated {
			body = body[:maxBody]
			io.Copy(io.Discard, r.Body)
		}
		headers := make(map[string]string, len(r.Header))
		for name, values := range r.Header {
			headers[name] = values[0]
		}
		d := s.receive(delivery{EventID: r.Header.Get(headerEventID), Headers: headers}, body, truncated)
		log.Info("delivery", "seq", d.Seq, "event_id", d.EventID, "signature_valid", d.SignatureValid,
			"status", d.Status, "bytes", len(body))
		if d.Status == http.StatusNoContent {
			w.WriteHeader(d.Status)
			return
		}
		if !d.SignatureValid && d.Status == http.StatusUnauthorized {
			problem(w, d.Status, "the X-Flashcrowd-Signature header does not verify with WEBHOOK_SECRET")
			return
		}
		problem(w, d.Status, "failing on request (POST /fail)")
	})
}

func handleDeliveries(s *sink) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.list())
	})
}

func handleStats(s *sink) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.stats())
	})
}

// failRequest is the body of POST /fail.
type failRequest struct {
	Status int `json:"status"`
	Count  int `json:"count"`
}

func handleFail(s *sink, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); r.Header.Get("Content-Type") != "" && mt != "application/json" {
			problem(w, http.StatusUnsupportedMediaType, "send application/json")
			return
		}
		var req failRequest
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				problem(w, http.StatusRequestEntityTooLarge, "the body is too large")
				return
			}
			problem(w, http.StatusBadRequest, `malformed body: want {"status": 500, "count": 3}`)
			return
		}
		// 2xx would not be a failure; 1xx and 3xx mean something else to an HTTP client.
		if req.Status < 400 || req.Status > 599 || req.Count < 0 || req.Count > 1_000_000 {
			problem(w, http.StatusUnprocessableEntity, "status must be 400–599 and count 0–1000000")
			return
		}
		s.failNext(req.Status, req.Count)
		log.Info("failing next deliveries", "status", req.Status, "count", req.Count)
		writeJSON(w, http.StatusOK, req)
	})
}

func handleReset(s *sink, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.reset()
		log.Info("reset")
		w.WriteHeader(http.StatusNoContent)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// problem answers an RFC 9457 problem, like the stack's services.
func problem(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"title": http.StatusText(status), "status": status, "detail": detail})
}
