package storefront

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
)

// sessionView is the gateway's GET /api/v1/session.
type sessionView struct {
	SignedIn bool `json:"signed_in"`
	Customer *struct {
		Email string `json:"email"`
	} `json:"customer"`
}

// accountPage is the account page's data: who is signed in, or the forms to sign in or up.
type accountPage struct {
	Session sessionView
	Problem string
	Email   string // as typed
	Form    string // which form the problem is about: "login" or "register"
}

// ordersPage is the order history's data.
type ordersPage struct {
	Items []orderView `json:"items"`
	Next  string      `json:"next_cursor"`
}

func (s *shop) account(w http.ResponseWriter, r *http.Request) {
	s.showAccount(w, r, http.StatusOK, accountPage{})
}

func (s *shop) showAccount(w http.ResponseWriter, r *http.Request, code int, p accountPage) {
	a := s.callAPI(w, r, http.MethodGet, "/api/v1/session", nil, nil)
	if a.status != http.StatusOK || json.Unmarshal(a.body, &p.Session) != nil {
		s.failed(w, r, a.err())
		return
	}
	s.private(w, r, code, "account", view{Title: "Your account", Data: p})
}

// signIn logs in (form "login") or registers and logs in (form "register"), then shows the
// order history; a refusal comes back on the account page under the API's status.
func (s *shop) signIn(form, path string, created int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.parseForm(w, r) {
			return
		}
		email := strings.TrimSpace(r.PostFormValue("email"))
		body := map[string]string{"email": email, "password": r.PostFormValue("password")}
		a := s.callAPI(w, r, http.MethodPost, path, body, nil)
		switch {
		case a.status == created:
			http.Redirect(w, r, "/orders", http.StatusSeeOther)
		case a.notTheForm():
			s.failed(w, r, a.err())
		default:
			s.showAccount(w, r, a.status, accountPage{Problem: a.detail(), Email: email, Form: form})
		}
	}
}

func (s *shop) signOut(w http.ResponseWriter, r *http.Request) {
	a := s.callAPI(w, r, http.MethodDelete, "/api/v1/session", nil, nil)
	if a.status/100 != 2 {
		s.failed(w, r, a.err())
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// orders is the order history: the session's orders (a guest's too), newest first, a page at
// a time.
func (s *shop) orders(w http.ResponseWriter, r *http.Request) {
	q := url.Values{}
	if c := r.URL.Query().Get("cursor"); c != "" {
		q.Set("cursor", c)
	}
	path := "/api/v1/orders"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	a := s.callAPI(w, r, http.MethodGet, path, nil, nil)
	var p ordersPage
	if a.status != http.StatusOK || json.Unmarshal(a.body, &p) != nil {
		s.failed(w, r, a.err())
		return
	}
	if p.Next != "" {
		p.Next = "/orders?" + url.Values{"cursor": {p.Next}}.Encode()
	}
	s.private(w, r, http.StatusOK, "orders", view{Title: "Your orders", Data: p})
}
