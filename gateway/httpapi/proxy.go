package httpapi

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"

	"github.com/flashcrowd/flashcrowd/contracts/identity"
	"github.com/flashcrowd/flashcrowd/foundation/web"
)

// NewTransport is the one transport all proxied requests share. Go's default keeps 2 idle
// connections per host, so under concurrency it would open and close a connection for
// almost every request; idle connections are sized to the expected concurrency instead.
func NewTransport(maxIdle int) *http.Transport {
	return &http.Transport{
		Proxy:                 nil, // in-network traffic never goes through an outbound proxy
		DialContext:           (&net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          maxIdle,
		MaxIdleConnsPerHost:   maxIdle,
		IdleConnTimeout:       60 * time.Second, // below HAProxy's internal keep-alive timeout (75 s)
		ResponseHeaderTimeout: 15 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

// identityToken is the request context key of the signed identity token that handleShop adds.
type identityToken struct{}

func newProxy(upstream *url.URL, transport http.RoundTripper) http.Handler {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(upstream)
			// HAProxy's edge sets X-Forwarded-For to the client's address (replacing any the
			// client sent): keep it, and append the edge's own, so services see the client.
			pr.Out.Header["X-Forwarded-For"] = pr.In.Header["X-Forwarded-For"]
			pr.SetXForwarded()
			// Only the gateway states who is asking: a client's statement never passes, and
			// the session cookie never leaves the gateway (no service reads cookies).
			pr.Out.Header.Del(identity.Header)
			pr.Out.Header.Del("Cookie")
			if token, ok := pr.In.Context().Value(identityToken{}).(string); ok {
				pr.Out.Header.Set(identity.Header, token)
			}
		},
		Transport: transport,
		ModifyResponse: func(resp *http.Response) error {
			// The gateway already answers with the request's id; drop the upstream's copy of it.
			resp.Header.Del(web.RequestIDHeader)
			if p, ok := resp.Request.Context().Value(pendingKey{}).(*pendingSession); ok && resp.StatusCode/100 == 2 {
				if err := p.keep(resp.Header); err != nil {
					return err
				}
			}
			// An answer for one session, perhaps with its cookie, must never be cached and
			// served to another, whatever the service said.
			if resp.Request.Context().Value(identityToken{}) != nil {
				resp.Header.Set("Cache-Control", web.CachePrivate)
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			var p *web.Problem
			switch {
			case errors.As(err, &p): // from ModifyResponse
				web.WriteProblem(w, r, p)
			case errors.Is(err, context.Canceled):
				return // the client went away; nobody is left to answer
			case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
				web.WriteProblem(w, r, web.NewProblem(http.StatusGatewayTimeout, "the service did not answer in time"))
			default:
				web.Log(r.Context()).Warn("upstream failed", "err", err)
				web.WriteProblem(w, r, web.NewProblem(http.StatusBadGateway, "the service is unavailable"))
			}
		},
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// upstreamCheck asks the internal load balancer for any healthy service instance.
func upstreamCheck(upstream *url.URL, transport http.RoundTripper) web.Check {
	client := &http.Client{Transport: transport, Timeout: time.Second}
	target := upstream.JoinPath("/healthz").String()
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		// Read the (short) body to its end, so the connection goes back to the pool: closed
		// unread, it is closed, and every check (HAProxy's, every 2 s) dialled, and looked the
		// load balancer's name up in Docker's DNS, anew.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return errors.New("upstream answered " + resp.Status)
		}
		return nil
	}
}
