// Package email sends the order confirmation emails over SMTP.
package email

import (
	"context"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"net"
	netmail "net/mail"
	"strconv"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/hibiken/asynq"
	"github.com/wneessen/go-mail"

	"github.com/flashcrowd/flashcrowd/contracts/tasks"
)

// HeaderOrder names the order an email confirms, so that copies of one order's email (a worker
// killed after sending and before acknowledging sends it again) can be counted in the mailbox.
const HeaderOrder = "X-Flashcrowd-Order"

// Sender handles order:confirmation tasks. Its mail.Client dials a connection per message, so
// one Sender serves every concurrent task.
type Sender struct {
	client *mail.Client
	from   *netmail.Address
	domain string // of the From address: names the Message-IDs
	now    func() time.Time
}

// NewSender returns a Sender through the SMTP server at addr (host:port) from the address from
// ("Name <user@domain>"). STARTTLS is used when the server offers it; the mail catcher does not.
func NewSender(addr, from string, timeout time.Duration) (*Sender, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("smtp address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return nil, fmt.Errorf("smtp address %q: port: %w", addr, err)
	}
	sender, err := netmail.ParseAddress(from)
	if err != nil {
		return nil, fmt.Errorf("mail from %q: %w", from, err)
	}
	c, err := mail.NewClient(host, mail.WithPort(port), mail.WithTLSPolicy(mail.TLSOpportunistic), mail.WithTimeout(timeout))
	if err != nil {
		return nil, fmt.Errorf("smtp client: %w", err)
	}
	_, domain, _ := strings.Cut(sender.Address, "@")
	return &Sender{client: c, from: sender, domain: domain, now: time.Now}, nil
}

// ProcessTask implements asynq.Handler. A failed send returns its error, so asynq retries it;
// an address the server refuses for good (a 5xx to RCPT TO) is not retried.
func (s *Sender) ProcessTask(ctx context.Context, t *asynq.Task) error {
	p, err := tasks.Parse[tasks.OrderConfirmationPayload](t)
	if err != nil {
		return err
	}
	msg, err := s.Message(p.Order)
	if err != nil {
		return fmt.Errorf("confirmation of order %d: %v: %w", p.Order.ID, err, asynq.SkipRetry)
	}
	if err := s.client.DialAndSendWithContext(ctx, msg); err != nil {
		var se *mail.SendError
		if errors.As(err, &se) && se.Reason == mail.ErrSMTPRcptTo && !se.IsTemp() {
			return fmt.Errorf("confirmation of order %d: recipient refused: %v: %w", p.Order.ID, err, asynq.SkipRetry)
		}
		return fmt.Errorf("confirmation of order %d: %w", p.Order.ID, err)
	}
	return nil
}

// Message builds the confirmation of o: a plain-text summary and the same as HTML.
func (s *Sender) Message(o tasks.Order) (*mail.Msg, error) {
	if o.ID <= 0 || len(o.Lines) == 0 {
		return nil, fmt.Errorf("order %d with %d lines: nothing to confirm", o.ID, len(o.Lines))
	}
	m := mail.NewMsg()
	if err := m.FromFormat(s.from.Name, s.from.Address); err != nil {
		return nil, fmt.Errorf("from: %w", err)
	}
	if err := m.To(o.Email); err != nil {
		return nil, fmt.Errorf("to %q: %w", o.Email, err)
	}
	id := strconv.FormatInt(o.ID, 10)
	m.Subject("Your Flashcrowd order #" + id)
	m.SetMessageIDWithValue("order-" + id + "@" + s.domain)
	m.SetGenHeader(HeaderOrder, id)
	m.SetDateWithValue(s.now())
	// RFC 3834: no out-of-office replies to the shop. (Not "Precedence: bulk", which would file
	// a receipt with the newsletters.)
	m.SetGenHeader("Auto-Submitted", "auto-generated")
	v := view(o)
	if err := m.SetBodyTextTemplate(textBody, v); err != nil {
		return nil, fmt.Errorf("text body: %w", err)
	}
	if err := m.AddAlternativeHTMLTemplate(htmlBody, v); err != nil {
		return nil, fmt.Errorf("html body: %w", err)
	}
	return m, nil
}

// summary is what the templates show: amounts already formatted.
type summary struct {
	ID       int64
	PlacedAt string
	Lines    []summaryLine
	Total    string
}

type summaryLine struct {
	Name, SKU       string
	Quantity        int32
	UnitPrice, Cost string
}

func view(o tasks.Order) summary {
	v := summary{ID: o.ID, PlacedAt: o.PlacedAt.UTC().Format("2 January 2006, 15:04 MST"), Total: Money(o.TotalCents, o.Currency)}
	for _, l := range o.Lines {
		v.Lines = append(v.Lines, summaryLine{
			Name: l.Name, SKU: l.SKU, Quantity: l.Quantity,
			UnitPrice: Money(l.UnitPriceCents, o.Currency),
			Cost:      Money(int64(l.Quantity)*l.UnitPriceCents, o.Currency),
		})
	}
	return v
}

var textBody = texttemplate.Must(texttemplate.New("text").Parse(`Hello,

thank you for your order #{{.ID}}, placed on {{.PlacedAt}}.
{{range .Lines}}
  {{.Quantity}} × {{.Name}} ({{.SKU}}) at {{.UnitPrice}}: {{.Cost}}{{end}}

Total: {{.Total}}

Flashcrowd
`))

var htmlBody = htmltemplate.Must(htmltemplate.New("html").Parse(`<!DOCTYPE html>
<html><body style="font-family: sans-serif">
<p>Hello,</p>
<p>thank you for your order #{{.ID}}, placed on {{.PlacedAt}}.</p>
<table cellpadding="4" style="border-collapse: collapse">
<tr><th align="left">Product</th><th align="left">SKU</th><th align="right">Quantity</th><th align="right">Unit price</th><th align="right">Amount</th></tr>
{{range .Lines}}<tr><td>{{.Name}}</td><td>{{.SKU}}</td><td align="right">{{.Quantity}}</td><td align="right">{{.UnitPrice}}</td><td align="right">{{.Cost}}</td></tr>
{{end}}<tr><td colspan="4" align="right"><strong>Total</strong></td><td align="right"><strong>{{.Total}}</strong></td></tr>
</table>
<p>Flashcrowd</p>
</body></html>
`))
