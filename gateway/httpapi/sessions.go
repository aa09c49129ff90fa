package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/flashcrowd/flashcrowd/contracts/identity"
	"github.com/flashcrowd/flashcrowd/foundation/web"
	"github.com/flashcrowd/flashcrowd/gateway/session"
)

// sessions joins the session store to the cookie that names a session.
type sessions struct {
	store *session.Store
}

// visitor is the session a request's cookie names. key is empty when it names none that is
// stored: no cookie, a malformed one, or one whose session expired or was deleted.
type visitor struct {
	cookie string
	key    string
	sess   session.Session
}

func (v visitor) found() bool { return v.key != "" }

// find looks up the session the request's cookie names, restarting its TTL in Redis. A Redis
// failure is a 503: without its session a request cannot be answered for the right person.
func (s sessions) find(r *http.Request) (visitor, error) {
	c, err := r.Cookie(session.CookieName)
	if err != nil {
		return visitor{}, nil
	}
	key, ok := session.KeyOf(c.Value)
	if !ok {
		return visitor{}, nil
	}
	sess, found, err := s.store.Get(r.Context(), key)
	if err != nil {
		return visitor{}, unavailable(r.Context(), err)
	}
	if !found {
		return visitor{}, nil
	}
	return visitor{cookie: c.Value, key: key, sess: sess}, nil
}

// start stores a new session and sends its cookie, at login and registration, where it
// replaces the session named old (the id rotates).
func (s sessions) start(w http.ResponseWriter, r *http.Request, old string, sess session.Session) (key string, err error) {
	cookie, key := session.New()
	if err := s.store.Replace(r.Context(), old, key, sess); err != nil {
		return "", unavailable(r.Context(), err)
	}
	s.sendCookie(w, r, cookie)
	return key, nil
}

// sendCookie sends the session cookie with a fresh Max-Age, so the browser's copy slides
// with the session's TTL in Redis.
func (s sessions) sendCookie(w http.ResponseWriter, r *http.Request, cookie string) {
	http.SetCookie(w, s.cookie(r, cookie))
}

func (s sessions) cookie(r *http.Request, value string) *http.Cookie {
	return &http.Cookie{
		Name:     session.CookieName,
		Value:    value,
		Path:     "/",
		MaxAge:   int(s.store.TTL() / time.Second),
		HttpOnly: true, // scripts never need it: a cross-site script cannot steal it
		Secure:   secure(r),
		SameSite: http.SameSiteLaxMode,
	}
}

// pendingSession is a guest's session made for its first write: stored, and its cookie sent,
// only once the service has accepted the write (the proxy's ModifyResponse calls keep). A
// refused write, such as most buyers' in a flash sale, leaves nothing in Redis for a week.
type pendingSession struct {
	s      sessions
	r      *http.Request
	cookie string
	key    string
	sess   session.Session
}

// pendingKey is the request context key of a *pendingSession.
type pendingKey struct{}

// keep stores the session and adds its cookie to the answer's headers. When Redis fails, the
// answer is a 503: the write was made under a session the browser will never name again.
func (p *pendingSession) keep(h http.Header) error {
	if err := p.s.store.Put(p.r.Context(), p.key, p.sess); err != nil {
		return unavailable(p.r.Context(), err)
	}
	h.Add("Set-Cookie", p.s.cookie(p.r, p.cookie).String())
	return nil
}

// expireCookie tells the browser to drop the session cookie.
func (s sessions) expireCookie(w http.ResponseWriter, r *http.Request) {
	c := s.cookie(r, "")
	c.MaxAge = -1
	http.SetCookie(w, c)
}

// secure reports whether the browser reached the platform over TLS: directly, or through the
// edge, which terminates TLS and sets X-Forwarded-Proto itself (replacing a client's).
func secure(r *http.Request) bool {
	return r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https"
}

// unavailable is the answer when Redis fails a session operation.
func unavailable(ctx context.Context, err error) error {
	web.Log(ctx).Warn("sessions unavailable", "err", err)
	p := web.NewProblem(http.StatusServiceUnavailable, "sessions are unavailable; try again shortly")
	p.RetryAfter = 1
	return p
}

// handleShop forwards a cart or orders request with the signed identity of its session. A
// guest's session is stored only on its first write, and only when the service accepts it: a
// read without one is signed with a fresh key that names nothing (an empty cart), so browsing
// costs Redis nothing, and neither does a refused write.
func handleShop(s sessions, key []byte, limits *limiter, proxy http.Handler) http.Handler {
	return web.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		v, err := s.find(r)
		if err != nil {
			return err
		}
		// Checkouts are limited per session. One without a session has no cart (orders answers
		// 422) and no key of its own: keyed, every such request would share one allowance.
		if v.found() && isCheckout(r) {
			if err := limits.checkout(r.Context(), v); err != nil {
				return err
			}
		}
		switch {
		case v.found():
			s.sendCookie(w, r, v.cookie)
		case safeMethod(r.Method):
			_, v.key = session.New()
		default:
			p := &pendingSession{s: s, r: r, sess: session.Session{Created: time.Now().UTC()}}
			p.cookie, p.key = session.New()
			v.key = p.key
			r = r.WithContext(context.WithValue(r.Context(), pendingKey{}, p))
		}
		token, err := identity.Sign(key, identity.Identity{Session: v.key, Customer: v.sess.Customer, Email: v.sess.Email}, time.Now())
		if err != nil {
			return err // only a key shorter than the config allows
		}
		proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), identityToken{}, token)))
		return nil
	})
}

// safeMethod reports whether method changes nothing (RFC 9110), so needs no stored session.
func safeMethod(method string) bool {
	return method == http.MethodGet || method == http.MethodHead || method == http.MethodOptions
}
