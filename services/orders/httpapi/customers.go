package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"unicode/utf8"

	"github.com/flashcrowd/flashcrowd/foundation/web"
	"github.com/flashcrowd/flashcrowd/services/orders"
)

type customerView struct {
	ID    int64  `json:"id"`
	Email string `json:"email"`
}

// registration is the body of POST /internal/v1/customers.
type registration struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

func (c registration) Valid() map[string]string {
	problems := map[string]string{}
	if p := orders.ValidEmail(orders.NormalizeEmail(c.Email)); p != "" {
		problems["email"] = p
	}
	if p := orders.ValidPassword(c.Password); p != "" {
		problems["password"] = p
	}
	return problems
}

// login is the body of POST /internal/v1/customers/login. Only what no account can match is
// invalid; a password too short is simply wrong (401), like any other.
type login struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

func (c login) Valid() map[string]string {
	problems := map[string]string{}
	if c.Email == "" || len(c.Email) > orders.MaxEmailLen {
		problems["email"] = fmt.Sprintf("required, at most %d bytes", orders.MaxEmailLen)
	}
	if c.Password == "" || utf8.RuneCountInString(c.Password) > orders.MaxPasswordLen {
		problems["password"] = fmt.Sprintf("required, at most %d characters", orders.MaxPasswordLen)
	}
	return problems
}

func handleRegister(store Store) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req registration
		if err := web.Decode(w, r, &req); err != nil {
			return err
		}
		hash, err := orders.HashPassword(req.Password)
		if err != nil {
			return err
		}
		c, err := store.CreateCustomer(r.Context(), orders.NormalizeEmail(req.Email), hash)
		if errors.Is(err, orders.ErrEmailTaken) {
			return web.NewProblem(http.StatusConflict, "an account with this email exists already")
		}
		if err != nil {
			return storeProblem(r, err)
		}
		web.Respond(w, http.StatusCreated, customerView(c))
		return nil
	}
}

// handleLogin checks a customer's password and moves the guest cart of the session the login
// came from into the customer's. An unknown email and a wrong password get the same answer,
// after the same bcrypt work.
func handleLogin(store Store, carts cartAPI) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req login
		if err := web.Decode(w, r, &req); err != nil {
			return err
		}
		c, hash, err := store.CustomerByEmail(r.Context(), orders.NormalizeEmail(req.Email))
		var ok bool
		switch {
		case errors.Is(err, orders.ErrNotFound):
			ok = orders.CheckNoAccount(req.Password)
		case err != nil:
			return storeProblem(r, err)
		default:
			ok = orders.CheckPassword(hash, req.Password)
		}
		if !ok {
			return web.NewProblem(http.StatusUnauthorized, "wrong email or password")
		}
		guest, account := "s:"+who(r).Session, orders.CustomerOwner(c.ID)
		items, err := carts.carts.Get(r.Context(), guest)
		if err == nil {
			err = carts.carts.Merge(r.Context(), guest, account)
		}
		if err != nil {
			web.Log(r.Context()).Warn("merge carts at login", "err", err)
			return unavailable("the cart")
		}
		carts.moveHolds(r.Context(), guest, account, items)
		web.Respond(w, http.StatusOK, customerView(c))
		return nil
	}
}
