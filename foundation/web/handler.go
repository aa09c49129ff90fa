package web

import (
	"crypto/subtle"
	"net/http"
	"strings"
)

// HandlerFunc is the shape of every handler: it answers, or returns an error that Fail turns
// into a problem+json answer (a *Problem as it is, anything else as a 500 that leaks nothing).
// One adapter, so no handler writes its own error answers.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

func (f HandlerFunc) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := f(w, r); err != nil {
		Fail(w, r, err)
	}
}

// RequireBearer refuses requests without "Authorization: Bearer <token>" with a 401, comparing
// in constant time. Each service that serves admin routes puts it in front of them itself.
func RequireBearer(token string) func(http.Handler) http.Handler {
	want := []byte(token)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok || len(want) == 0 || subtle.ConstantTimeCompare([]byte(got), want) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="flashcrowd-admin"`)
				WriteProblem(w, r, NewProblem(http.StatusUnauthorized, "admin calls need a valid bearer token"))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}
