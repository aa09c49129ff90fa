package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/flashcrowd/flashcrowd/contracts/identity"
	"github.com/flashcrowd/flashcrowd/foundation/web"
)

type identityKey struct{}

// requireIdentity admits a request only with a valid X-Flashcrowd-Identity, signed by the
// gateway with key, and puts the identity in its context. Nothing else identifies a caller:
// whoever can reach this service without the key is nobody.
func requireIdentity(key []byte, now func() time.Time) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			token := r.Header.Get(identity.Header)
			if token == "" {
				web.WriteProblem(w, r, web.NewProblem(http.StatusUnauthorized, "the request carries no %s", identity.Header))
				return
			}
			id, err := identity.Verify(key, token, now())
			if err != nil {
				web.Log(r.Context()).Info("identity refused", "err", err)
				web.WriteProblem(w, r, web.NewProblem(http.StatusUnauthorized, "the request's %s is invalid or expired", identity.Header))
				return
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), identityKey{}, id)))
		})
	}
}

// who returns the identity requireIdentity verified.
func who(r *http.Request) identity.Identity {
	id, _ := r.Context().Value(identityKey{}).(identity.Identity)
	return id
}
