package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/mail"
	"net/url"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/flashcrowd/flashcrowd/contracts/identity"
	"github.com/flashcrowd/flashcrowd/foundation/web"
	"github.com/flashcrowd/flashcrowd/gateway/session"
)

// Password lengths the orders service accepts at registration (it checks them too).
const (
	minPassword = 8
	maxPassword = 128
	maxEmail    = 254 // RFC 5321's bound on a forward path
)

// customer is how the API and the orders service show a customer.
type customer struct {
	ID    int64  `json:"id"`
	Email string `json:"email"`
}

// signup is the body of POST /api/v1/customers.
type signup struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

func (s signup) Valid() map[string]string {
	problems := map[string]string{}
	if p := emailProblem(s.Email); p != "" {
		problems["email"] = p
	}
	if n := utf8.RuneCountInString(s.Password); n < minPassword || n > maxPassword {
		problems["password"] = fmt.Sprintf("must be %d to %d characters", minPassword, maxPassword)
	}
	return problems
}

// login is the body of POST /api/v1/session. Only presence and size are checked here: a
// malformed address simply matches no account.
type login struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

func (l login) Valid() map[string]string {
	problems := map[string]string{}
	switch {
	case l.Email == "":
		problems["email"] = "required"
	case len(l.Email) > maxEmail:
		problems["email"] = fmt.Sprintf("at most %d characters", maxEmail)
	}
	switch {
	case l.Password == "":
		problems["password"] = "required"
	case utf8.RuneCountInString(l.Password) > maxPassword:
		problems["password"] = fmt.Sprintf("at most %d characters", maxPassword)
	}
	return problems
}

func emailProblem(email string) string {
	if email == "" {
		return "required"
	}
	if len(email) > maxEmail {
		return fmt.Sprintf("at most %d characters", maxEmail)
	}
	// A bare address only: ParseAddress also takes "Name <a@b>" and surrounding spaces.
	if a, err := mail.ParseAddress(email); err != nil || a.Address != email {
		return "must be an email address such as ada@example.com"
	}
	return ""
}

// sessionState is the body of GET /api/v1/session.
type sessionState struct {
	SignedIn bool      `json:"signed_in"`
	Customer *customer `json:"customer,omitempty"`
}

// handleSession says who the session belongs to. It stores nothing.
func handleSession(s sessions) http.Handler {
	return web.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		v, err := s.find(r)
		if err != nil {
			return err
		}
		var out sessionState
		if v.found() {
			s.sendCookie(w, r, v.cookie)
			if v.sess.SignedIn() {
				out = sessionState{SignedIn: true, Customer: &customer{ID: v.sess.Customer, Email: v.sess.Email}}
			}
		}
		w.Header().Set("Cache-Control", web.CachePrivate)
		web.Respond(w, http.StatusOK, out)
		return nil
	})
}

// handleLogin checks the credentials with the orders service, which also merges the guest's
// cart into the account, and signs the session in under a new id.
func handleLogin(s sessions, orders ordersClient, limits *limiter, m *metrics) http.Handler {
	return web.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		var in login
		if err := web.Decode(w, r, &in); err != nil {
			return err
		}
		if err := limits.login(r.Context(), r, in.Email); err != nil {
			m.logins.WithLabelValues("limited").Inc()
			return err
		}
		v, err := s.find(r)
		if err != nil {
			return err
		}
		c, err := orders.login(r.Context(), guestKey(v), in.Email, in.Password)
		if errors.Is(err, errRefused) {
			m.logins.WithLabelValues("refused").Inc()
			return web.NewProblem(http.StatusUnauthorized, "wrong email or password")
		}
		if err != nil {
			return err
		}
		if err := signIn(w, r, s, v.key, c); err != nil {
			return err
		}
		m.logins.WithLabelValues("ok").Inc()
		w.Header().Set("Cache-Control", web.CachePrivate)
		web.Respond(w, http.StatusOK, c)
		return nil
	})
}

// handleRegister creates the account, then logs it in as handleLogin does (so the guest's
// cart follows). Should that login fail after the account was made, the session is signed in
// from the registration's answer, without the merge: the account exists, and a 5xx would
// only make the customer's retry fail with 409.
func handleRegister(s sessions, orders ordersClient) http.Handler {
	return web.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		var in signup
		if err := web.Decode(w, r, &in); err != nil {
			return err
		}
		v, err := s.find(r)
		if err != nil {
			return err
		}
		sid := guestKey(v)
		c, err := orders.register(r.Context(), sid, in.Email, in.Password)
		if errors.Is(err, errRefused) {
			// Only the identity header can be refused here: the gateway's IDENTITY_KEY is
			// not the orders service's.
			web.Log(r.Context()).Error("orders refused the gateway's identity at registration: is IDENTITY_KEY the same on both?")
			return web.NewProblem(http.StatusBadGateway, "the service is unavailable")
		}
		if err != nil {
			return err
		}
		if merged, err := orders.login(r.Context(), sid, in.Email, in.Password); err != nil {
			web.Log(r.Context()).Warn("login after registration failed: signed in without the guest cart", "customer", c.ID, "err", err)
		} else {
			c = merged
		}
		if err := signIn(w, r, s, v.key, c); err != nil {
			return err
		}
		w.Header().Set("Cache-Control", web.CachePrivate)
		web.Respond(w, http.StatusCreated, c)
		return nil
	})
}

// handleLogout deletes the session and the browser's cookie. Without a session there is
// nothing to end, and the answer is the same.
func handleLogout(s sessions) http.Handler {
	return web.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		if c, err := r.Cookie(session.CookieName); err == nil {
			if key, ok := session.KeyOf(c.Value); ok {
				if err := s.store.Delete(r.Context(), key); err != nil {
					return unavailable(r.Context(), err)
				}
			}
			s.expireCookie(w, r)
		}
		w.Header().Set("Cache-Control", web.CachePrivate)
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

// signIn gives the customer a new session, replacing the visitor's (rotation at login).
func signIn(w http.ResponseWriter, r *http.Request, s sessions, old string, c customer) error {
	_, err := s.start(w, r, old, session.Session{Customer: c.ID, Email: c.Email, Created: time.Now().UTC()})
	return err
}

// guestKey is the session the orders service merges the cart of at login: the visitor's, or
// a fresh key that names no cart when the visitor has stored none.
func guestKey(v visitor) string {
	if v.found() {
		return v.key
	}
	_, key := session.New()
	return key
}

// errRefused is the orders service's 401: wrong credentials at login.
var errRefused = errors.New("orders: credentials refused")

// ordersClient calls the orders service's customer endpoints, through the same internal load
// balancer as the proxy (it routes /internal/v1/customers* to the orders service).
type ordersClient struct {
	client      *http.Client
	registerURL string
	loginURL    string
	key         []byte
	timeout     time.Duration
}

func newOrdersClient(upstream *url.URL, transport http.RoundTripper, key []byte) ordersClient {
	return ordersClient{
		client:      &http.Client{Transport: transport},
		registerURL: upstream.JoinPath("/internal/v1/customers").String(),
		loginURL:    upstream.JoinPath("/internal/v1/customers/login").String(),
		key:         key,
		timeout:     10 * time.Second, // bcrypt under load takes a while; a client waits no longer
	}
}

func (o ordersClient) register(ctx context.Context, sid, email, password string) (customer, error) {
	return o.call(ctx, o.registerURL, http.StatusCreated, sid, email, password)
}

func (o ordersClient) login(ctx context.Context, sid, email, password string) (customer, error) {
	return o.call(ctx, o.loginURL, http.StatusOK, sid, email, password)
}

// call POSTs the credentials with the identity of session sid and reads the customer from an
// answer with status want. The service's 401 is errRefused; its 409 and 422 are about the
// client's input and pass through; anything else, a 400 included (the gateway wrote that
// request: a 400 means the two disagree on the contract), is the service failing: a 502, 503
// or 504, never a 500.
func (o ordersClient) call(ctx context.Context, target string, want int, sid, email, password string) (customer, error) {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	token, err := identity.Sign(o.key, identity.Identity{Session: sid}, time.Now())
	if err != nil {
		return customer{}, err
	}
	body, err := json.Marshal(signup{Email: email, Password: password})
	if err != nil {
		return customer{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return customer{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(identity.Header, token)
	req.Header.Set(web.RequestIDHeader, web.RequestID(ctx))
	resp, err := o.client.Do(req)
	if err != nil {
		return customer{}, upstreamFailed(ctx, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, web.MaxBodyBytes))
	if err != nil {
		return customer{}, upstreamFailed(ctx, err)
	}

	switch resp.StatusCode {
	case want:
		var c customer
		if err := json.Unmarshal(answer, &c); err != nil || c.ID <= 0 || c.Email == "" {
			web.Log(ctx).Error("orders answered an unreadable customer", "url", target, "err", err)
			return customer{}, web.NewProblem(http.StatusBadGateway, "the service is unavailable")
		}
		return c, nil
	case http.StatusUnauthorized:
		return customer{}, errRefused
	case http.StatusConflict, http.StatusUnprocessableEntity:
		return customer{}, relayed(resp.StatusCode, answer)
	case http.StatusServiceUnavailable:
		p := web.NewProblem(http.StatusServiceUnavailable, "the service is busy; try again shortly")
		p.RetryAfter = 1
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
			p.RetryAfter = s
		}
		return customer{}, p
	case http.StatusGatewayTimeout:
		return customer{}, web.NewProblem(http.StatusGatewayTimeout, "the service did not answer in time")
	default:
		web.Log(ctx).Warn("orders answered unexpectedly", "url", target, "status", resp.StatusCode)
		return customer{}, web.NewProblem(http.StatusBadGateway, "the service is unavailable")
	}
}

// relayed is the orders service's problem about the client's input, as the gateway's: its
// detail and field errors, with the gateway's own instance and request id.
func relayed(status int, answer []byte) *web.Problem {
	var up web.Problem
	_ = json.Unmarshal(answer, &up) // an unreadable body leaves a problem with the status alone
	p := web.NewProblem(status, "%s", up.Detail)
	if up.Detail == "" {
		p.Detail = http.StatusText(status)
	}
	p.Errors = up.Errors
	return p
}

// upstreamFailed is the answer when the orders service could not be reached or did not answer.
func upstreamFailed(ctx context.Context, err error) error {
	if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
		return web.NewProblem(http.StatusGatewayTimeout, "the service did not answer in time")
	}
	if !errors.Is(err, context.Canceled) { // a client that went away is nothing to log
		web.Log(ctx).Warn("orders failed", "err", err)
	}
	return web.NewProblem(http.StatusBadGateway, "the service is unavailable")
}
