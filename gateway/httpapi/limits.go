package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"github.com/go-redis/redis_rate/v10"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/flashcrowd/flashcrowd/foundation/web"
)

// Limits are the gateway's own rate limits, per minute, shared by every instance in Redis: each
// allows a burst of its rate, then one request per 1/rate minute (GCRA). The edge limits each
// client address as a whole; these guard the two costly actions per account, session or client.
type Limits struct {
	// Password guessing: login attempts for one account and from one client address.
	LoginPerAccount int
	LoginPerClient  int
	// A bot or a runaway retry loop placing orders: checkouts for one customer (signed in) or
	// one session (a guest).
	CheckoutPerSession int
}

// limiter applies Limits. redis_rate keeps its state under rate:<key> in Redis.
type limiter struct {
	rl     *redis_rate.Limiter
	limits Limits
	// Requests refused (limited) and let through because Redis could not answer (error), by limit.
	results *prometheus.CounterVec
}

// rule is one limit to check: its key in Redis, its rate per minute, and who it is for in the
// 429's words.
type rule struct {
	key   string
	limit int
	whose string
}

// allow counts one request against each rule in turn and answers a 429 problem, with
// Retry-After, at the first one that is spent: a client already refused does not also spend an
// account's allowance.
//
// It fails open: when Redis cannot answer, the request goes on (logged and counted). A login
// and a checkout need Redis anyway (the session, the cart), so an outage still stops them at
// that step; what failing open keeps working is the request while only the limiter's script
// fails or times out under load.
func (l *limiter) allow(ctx context.Context, name, what string, rules ...rule) error {
	for _, c := range rules {
		res, err := l.rl.Allow(ctx, c.key, redis_rate.PerMinute(c.limit))
		if err != nil {
			l.results.WithLabelValues(name, "error").Inc()
			web.Log(ctx).Error("rate limit unavailable: the request is let through", "limit", name, "err", err)
			return nil
		}
		if res.Allowed == 0 {
			l.results.WithLabelValues(name, "limited").Inc()
			p := web.NewProblem(http.StatusTooManyRequests, "too many %s %s; try again later", what, c.whose)
			p.RetryAfter = max(1, int(math.Ceil(res.RetryAfter.Seconds())))
			return p
		}
	}
	return nil
}

// login counts one login attempt for email from the request's client.
func (l *limiter) login(ctx context.Context, r *http.Request, email string) error {
	return l.allow(ctx, "login", "login attempts",
		rule{"login:client:" + clientAddr(r), l.limits.LoginPerClient, "from this address"},
		rule{"login:account:" + accountKey(email), l.limits.LoginPerAccount, "for this account"})
}

// checkout counts one checkout for the customer signed in on the session, or the session itself.
func (l *limiter) checkout(ctx context.Context, v visitor) error {
	key, whose := "checkout:session:"+v.key, "in this session"
	if v.sess.Customer > 0 {
		key, whose = "checkout:customer:"+strconv.FormatInt(v.sess.Customer, 10), "for this account"
	}
	return l.allow(ctx, "checkout", "checkouts", rule{key, l.limits.CheckoutPerSession, whose})
}

// accountKey names an account's limit by a hash of its lower-cased address, so Redis holds no
// email addresses.
func accountKey(email string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(email))))
	return hex.EncodeToString(sum[:16])
}

// clientAddr is the address a login attempt came from: the first entry of X-Forwarded-For,
// which HAProxy's edge sets to the client's address (replacing any the client sent), or the
// connection's peer when no edge is in front. An IPv6 client is limited by its /64, which one
// subscriber usually gets whole.
func clientAddr(r *http.Request) string {
	first, _, _ := strings.Cut(r.Header.Get("X-Forwarded-For"), ",")
	a, err := netip.ParseAddr(strings.TrimSpace(first))
	if err != nil {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		if a, err = netip.ParseAddr(host); err != nil {
			return "unknown"
		}
	}
	a = a.Unmap().WithZone("")
	if a.Is6() {
		return netip.PrefixFrom(a, 64).Masked().String()
	}
	return a.String()
}
