package storefront

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"

	"github.com/go-chi/chi/v5"
)

// apiAnswer is what the gateway's own API answered an in-process call.
type apiAnswer struct {
	status int
	header http.Header
	body   []byte
}

// detail is a problem answer's detail, for the page.
func (a apiAnswer) detail() string {
	var p struct {
		Detail string `json:"detail"`
	}
	_ = json.Unmarshal(a.body, &p)
	return p.Detail
}

// errors are a refusal's field problems (a 422's), for the form's fields.
func (a apiAnswer) errors() map[string]string {
	var p struct {
		Errors map[string]string `json:"errors"`
	}
	_ = json.Unmarshal(a.body, &p)
	return p.Errors
}

// notTheForm reports an answer that is not about what a form said: the API failed, refused
// the request as such (CSRF), or asked to slow down. The error page answers those; the form's
// page shows the rest.
func (a apiAnswer) notTheForm() bool {
	return a.status >= 500 || a.status == http.StatusTooManyRequests || a.status == http.StatusForbidden
}

// err is the answer as the error pages take it.
func (a apiAnswer) err() error { return &apiError{Status: a.status, Detail: a.detail()} }

// recorder is an http.ResponseWriter that keeps the answer in memory.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(b)
}

// callAPI runs a request through the gateway's own API, in process, as the shopper's browser
// would send it: the same session cookie, the same client address, so the same session
// handling, identity signing, limits and authorization apply to a form as to a script. A
// cookie the API sets (a guest's first accepted write starts a session) goes on to the browser
// with the page.
func (s *shop) callAPI(w http.ResponseWriter, r *http.Request, method, path string, body any, header map[string]string) apiAnswer {
	var rd *bytes.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return apiAnswer{status: http.StatusInternalServerError}
		}
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	// The page's context, without its router state: the API's router routes this request anew.
	ctx := context.WithValue(r.Context(), chi.RouteCtxKey, nil)
	req, err := http.NewRequestWithContext(ctx, method, path, rd)
	if err != nil {
		return apiAnswer{status: http.StatusInternalServerError}
	}
	req.Host, req.RemoteAddr, req.TLS = r.Host, r.RemoteAddr, r.TLS
	for _, h := range []string{"Cookie", "X-Forwarded-For", "X-Forwarded-Proto", "X-Request-ID", "User-Agent"} {
		if v := r.Header.Values(h); len(v) > 0 {
			req.Header[h] = v
		}
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := &recorder{header: http.Header{}}
	s.api.ServeHTTP(rec, req)
	for _, c := range rec.header.Values("Set-Cookie") {
		w.Header().Add("Set-Cookie", c)
	}
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	return apiAnswer{status: rec.status, header: rec.header, body: rec.body.Bytes()}
}
