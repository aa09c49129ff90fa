package email

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net"
	netmail "net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/hibiken/asynq"

	"github.com/flashcrowd/flashcrowd/contracts/tasks"
)

// received is one message as the test SMTP server got it.
type received struct {
	from string
	to   []string
	data []byte
}

// smtpServer is an in-test SMTP server: it keeps what it receives, and refuses recipients in
// refuse with the given code.
type smtpServer struct {
	mu     sync.Mutex
	got    []received
	refuse map[string]int
}

func (s *smtpServer) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{srv: s}, nil }

type session struct {
	srv *smtpServer
	msg received
}

func (s *session) Reset()        { s.msg = received{} }
func (s *session) Logout() error { return nil }
func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.msg.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if code := s.srv.refuse[to]; code != 0 {
		return &smtp.SMTPError{Code: code, Message: "refused by the test"}
	}
	s.msg.to = append(s.msg.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.msg.data = b
	s.srv.mu.Lock()
	defer s.srv.mu.Unlock()
	s.srv.got = append(s.srv.got, s.msg)
	return nil
}

func startSMTP(t *testing.T, refuse map[string]int) (*smtpServer, string) {
	t.Helper()
	be := &smtpServer{refuse: refuse}
	srv := smtp.NewServer(be)
	srv.Domain = "localhost"
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l) // returns when the server is closed
	t.Cleanup(func() { srv.Close() })
	return be, l.Addr().String()
}

func order() tasks.Order {
	return tasks.Order{
		ID: 42, Email: "ada@example.com", Status: "placed", Currency: "EUR", TotalCents: 4797,
		PlacedAt: time.Date(2026, 12, 1, 21, 40, 0, 0, time.UTC),
		Lines: []tasks.OrderLine{
			{ProductID: 7, SKU: "MUG-1", Name: "Blue <mug>", Quantity: 2, UnitPriceCents: 1299},
			{ProductID: 9, SKU: "TEA-9", Name: "Tea & honey", Quantity: 1, UnitPriceCents: 2199},
		},
	}
}

func confirmation(t *testing.T, o tasks.Order) *asynq.Task {
	t.Helper()
	b, err := json.Marshal(tasks.OrderConfirmationPayload{V: 1, Order: o})
	if err != nil {
		t.Fatal(err)
	}
	return asynq.NewTask(tasks.TypeOrderConfirmation, b)
}

func TestSendsTheConfirmation(t *testing.T) {
	srv, addr := startSMTP(t, nil)
	s, err := NewSender(addr, "Flashcrowd <orders@flashcrowd.test>", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ProcessTask(context.Background(), confirmation(t, order())); err != nil {
		t.Fatal(err)
	}
	if len(srv.got) != 1 {
		t.Fatalf("server got %d messages, want 1", len(srv.got))
	}
	got := srv.got[0]
	if got.from != "orders@flashcrowd.test" || len(got.to) != 1 || got.to[0] != "ada@example.com" {
		t.Errorf("envelope from %q to %q", got.from, got.to)
	}
	msg, err := netmail.ReadMessage(bytes.NewReader(got.data))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"Subject":            "Your Flashcrowd order #42",
		"Message-Id":         "<order-42@flashcrowd.test>",
		"X-Flashcrowd-Order": "42",
		"To":                 "<ada@example.com>",
		"From":               `"Flashcrowd" <orders@flashcrowd.test>`,
		"Auto-Submitted":     "auto-generated",
	} {
		if g := msg.Header.Get(name); g != want {
			t.Errorf("%s: %q, want %q", name, g, want)
		}
	}
	text, html := parts(t, msg)
	for _, want := range []string{"order #42", "2 × Blue <mug> (MUG-1) at €12.99: €25.98", "1 × Tea & honey (TEA-9) at €21.99: €21.99", "Total: €47.97"} {
		if !strings.Contains(text, want) {
			t.Errorf("text body lacks %q:\n%s", want, text)
		}
	}
	// The HTML part escapes what customers and admins typed.
	for _, want := range []string{"Blue &lt;mug&gt;", "Tea &amp; honey", "€47.97"} {
		if !strings.Contains(html, want) {
			t.Errorf("html body lacks %q:\n%s", want, html)
		}
	}
}

// parts returns the decoded text/plain and text/html parts of a multipart/alternative message.
func parts(t *testing.T, msg *netmail.Message) (text, html string) {
	t.Helper()
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type %q: %v", msg.Header.Get("Content-Type"), err)
	}
	r := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := r.NextPart() // decodes quoted-printable
		if errors.Is(err, io.EOF) {
			return text, html
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(p)
		if err != nil {
			t.Fatal(err)
		}
		switch ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type")); ct {
		case "text/plain":
			text = string(b)
		case "text/html":
			html = string(b)
		}
	}
}

func TestSendFailures(t *testing.T) {
	_, addr := startSMTP(t, map[string]int{"gone@example.com": 550, "full@example.com": 452})
	s, err := NewSender(addr, "Flashcrowd <orders@flashcrowd.test>", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	down, err := NewSender(closedAddr(t), "orders@flashcrowd.test", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	with := func(email string) tasks.Order { o := order(); o.Email = email; return o }
	for _, tt := range []struct {
		name      string
		sender    *Sender
		order     tasks.Order
		skipRetry bool
	}{
		{"server down: retried", down, order(), false},
		{"mailbox full (4xx): retried", s, with("full@example.com"), false},
		{"unknown recipient (5xx): not retried", s, with("gone@example.com"), true},
		{"invalid address: not retried", s, with("not an address"), true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.sender.ProcessTask(context.Background(), confirmation(t, tt.order))
			if err == nil {
				t.Fatal("no error")
			}
			if errors.Is(err, asynq.SkipRetry) != tt.skipRetry {
				t.Fatalf("err = %v; SkipRetry = %v, want %v", err, errors.Is(err, asynq.SkipRetry), tt.skipRetry)
			}
		})
	}
	bad := asynq.NewTask(tasks.TypeOrderConfirmation, []byte(`{"v":2}`))
	if err := s.ProcessTask(context.Background(), bad); !errors.Is(err, asynq.SkipRetry) {
		t.Errorf("unknown payload version: err = %v, want SkipRetry", err)
	}
}

// closedAddr is an address nothing listens on.
func closedAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestMoney(t *testing.T) {
	for _, tt := range []struct {
		minor    int64
		currency string
		want     string
	}{
		{0, "EUR", "€0.00"},
		{5, "EUR", "€0.05"},
		{123456, "EUR", "€1,234.56"},
		{100000000, "usd", "$1,000,000.00"},
		{-1999, "GBP", "-£19.99"},
		{500, "JPY", "JPY 500"},
		{1234567, "KWD", "KWD 1,234.567"},
		{1050, "CHF", "CHF 10.50"},
	} {
		if got := Money(tt.minor, tt.currency); got != tt.want {
			t.Errorf("Money(%d, %q) = %q, want %q", tt.minor, tt.currency, got, tt.want)
		}
	}
}
