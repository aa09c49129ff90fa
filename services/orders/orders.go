// Package orders holds the shop's write-path domain: customers, carts' limits, orders and the
// rules they follow. It knows nothing of storage or transport.
package orders

import (
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/flashcrowd/flashcrowd/contracts/identity"
)

// Errors the storage layer returns, mapped to HTTP statuses by the API.
var (
	ErrNotFound = errors.New("not found")
	// ErrKeyTaken means another transaction committed an order with the same owner and
	// Idempotency-Key first: the caller answers with that order.
	ErrKeyTaken = errors.New("idempotency key already used")
	// ErrEmailTaken means a customer with that email exists.
	ErrEmailTaken = errors.New("email already registered")
	// ErrCancelled and ErrCancelWindow refuse a cancellation.
	ErrCancelled    = errors.New("order already cancelled")
	ErrCancelWindow = errors.New("order past its cancellation window")
	// ErrCurrencies means the cart's products are priced in more than one currency.
	ErrCurrencies = errors.New("products in more than one currency")
	// ErrTimeout means a statement ran past its time limit (statement_timeout, or its deadline).
	ErrTimeout = errors.New("the query ran past its time limit")
	// ErrUnavailable means no database server could take the statement (no primary during a
	// failover, a server restarting): it did not run, and will succeed once a server takes it.
	ErrUnavailable = errors.New("the database is unavailable")
	// ErrOutcomeUnknown means a checkout's transaction was sent but its answer was lost (the
	// connection failed, or the request was cancelled): it may have committed. The same
	// request with the same Idempotency-Key finds out safely.
	ErrOutcomeUnknown = errors.New("the order's transaction may have committed: its answer was lost")
)

// StockError says which product is short at checkout, and what is left of it.
type StockError struct {
	ProductID int64
	Name      string // empty when Gone
	Left      int32
	Gone      bool // the product no longer exists
}

func (e *StockError) Error() string {
	if e.Gone {
		return fmt.Sprintf("product %d is no longer for sale", e.ProductID)
	}
	return fmt.Sprintf("product %d (%s): only %d left", e.ProductID, e.Name, e.Left)
}

// Limits of a cart, and so of an order.
const (
	MaxLines    = 50
	MaxQuantity = 99
)

// Order statuses.
const (
	StatusPlaced    = "placed"
	StatusCancelled = "cancelled"
)

// Item is a product and a quantity: a cart line, or what a checkout asks for.
type Item struct {
	ProductID int64
	Quantity  int32
}

// Line is one line of an order, at the price captured when it was placed.
type Line struct {
	ProductID      int64
	SKU            string
	Name           string
	Quantity       int32
	UnitPriceCents int64
}

// Order is a placed order. Owner is who may see it (see Owner).
type Order struct {
	ID          int64
	Owner       string
	CustomerID  int64 // 0: placed by a guest
	Email       string
	Status      string
	Currency    string
	TotalCents  int64
	Key         string // the Idempotency-Key it was placed with
	RequestHash []byte
	Lines       []Line
	PlacedAt    time.Time
	CancelledAt *time.Time
}

// Placement is what a checkout asks the store to do.
type Placement struct {
	Owner       string
	CustomerID  int64
	Email       string
	Key         string
	RequestHash []byte
	Items       []Item
}

// StockChange is a product's stock before and after a committed order or cancellation.
type StockChange struct {
	ProductID int64 `json:"product_id"`
	Stock     int32 `json:"stock"`
	Was       int32 `json:"was"`
}

// Committed is an order after a transaction that changed it, with the stock it moved and the
// primary's WAL position after the commit (empty when it could not be read).
type Committed struct {
	Order   Order
	Changes []StockChange
	LSN     string
}

// Customer is a registered shopper.
type Customer struct {
	ID    int64
	Email string
}

// Owner is the owner of what id's requests create: the customer once signed in, else the
// session. Carts and orders are keyed by it.
func Owner(id identity.Identity) string {
	if id.SignedIn() {
		return "c:" + strconv.FormatInt(id.Customer, 10)
	}
	return "s:" + id.Session
}

// CustomerOwner is the owner of a customer's carts and orders.
func CustomerOwner(customerID int64) string {
	return "c:" + strconv.FormatInt(customerID, 10)
}

// Password limits. bcrypt reads at most 72 bytes, so the store hashes a digest of the password
// (see postgres.HashPassword): every character counts.
const (
	MinPasswordLen = 8
	MaxPasswordLen = 128
)

// MaxEmailLen is the longest address SMTP can carry (RFC 5321 path limit).
const MaxEmailLen = 254

// NormalizeEmail trims and lower-cases an address: customers are unique by it.
func NormalizeEmail(s string) string {
	return strings.ToLower(strings.TrimSpace(s))
}

// ValidEmail reports a problem with a normalized address, or "". It accepts a bare
// addr-spec (no display name, no comments) of a sensible length.
func ValidEmail(s string) string {
	if s == "" {
		return "required"
	}
	if len(s) > MaxEmailLen || !utf8.ValidString(s) {
		return fmt.Sprintf("must be an email address of at most %d bytes", MaxEmailLen)
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s || !strings.Contains(s[strings.LastIndexByte(s, '@')+1:], ".") {
		return "must be an email address such as ada@example.com"
	}
	return ""
}

// ValidPassword reports a problem with a password, or "".
func ValidPassword(s string) string {
	n := utf8.RuneCountInString(s)
	if !utf8.ValidString(s) || n < MinPasswordLen || n > MaxPasswordLen {
		return fmt.Sprintf("must be %d to %d characters", MinPasswordLen, MaxPasswordLen)
	}
	return ""
}

var keyPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ValidKey reports whether s may be an Idempotency-Key.
func ValidKey(s string) bool { return keyPattern.MatchString(s) }
