package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"
)

// MaxBodyBytes bounds a JSON request body; larger bodies get a 413.
const MaxBodyBytes = 64 << 10

// Validator is implemented by request types: it returns field → problem, empty when valid.
type Validator interface {
	Valid() map[string]string
}

// Respond writes v as JSON with status.
func Respond(w http.ResponseWriter, status int, v any) {
	writeJSON(w, status, "application/json", v)
}

func writeJSON(w http.ResponseWriter, status int, contentType string, v any) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	// The header is gone: an encoding error can only be a broken connection, which the client sees.
	_ = json.NewEncoder(w).Encode(v)
}

// Decode reads exactly one JSON object from the body into v and validates it. Its errors are
// *Problem values: 415 for another media type, 413 for a body over MaxBodyBytes, 400 for
// malformed JSON, invalid UTF-8, wrong types or unknown fields, 422 when v.Valid() reports problems.
func Decode(w http.ResponseWriter, r *http.Request, v Validator) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return NewProblem(http.StatusUnsupportedMediaType, "send the body as application/json")
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		return decodeProblem(err)
	}
	// encoding/json would silently turn invalid UTF-8 into U+FFFD and store the mangled text.
	if !utf8.Valid(body) {
		return NewProblem(http.StatusBadRequest, "the body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeProblem(err)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		return NewProblem(http.StatusBadRequest, "the body must hold a single JSON object")
	}
	if fields := v.Valid(); len(fields) > 0 {
		return Invalid(fields)
	}
	return nil
}

func decodeProblem(err error) *Problem {
	var (
		syntax   *json.SyntaxError
		typ      *json.UnmarshalTypeError
		tooLarge *http.MaxBytesError
	)
	switch {
	case errors.As(err, &tooLarge):
		return NewProblem(http.StatusRequestEntityTooLarge, "the body is larger than %d bytes", tooLarge.Limit)
	case errors.As(err, &syntax):
		return NewProblem(http.StatusBadRequest, "malformed JSON at byte %d", syntax.Offset)
	case errors.As(err, &typ):
		return NewProblem(http.StatusBadRequest, "field %q must be a %s", typ.Field, typ.Type)
	case errors.Is(err, io.EOF):
		return NewProblem(http.StatusBadRequest, "the body is empty")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return NewProblem(http.StatusBadRequest, "the JSON body ends too early")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json has no typed error for this one.
		return NewProblem(http.StatusBadRequest, "unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	default:
		return NewProblem(http.StatusBadRequest, "could not read the body: %v", err)
	}
}
