package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/go-redis/redis_rate/v10"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/flashcrowd/flashcrowd/foundation/web"
)

// LoginLimits bounds password guessing: login attempts per minute for one account and from
// one client address. Each allows a burst of its rate, then one attempt per 1/rate minute
// (GCRA, in Redis, so the bound holds across every gateway instance).
type LoginLimits struct {
	PerAccount int
	PerClient  int
}

// loginLimiter applies LoginLimits. redis_rate keeps its state under rate:<key> in Redis.
type loginLimiter struct {
	rl     *redis_rate.Limiter
	limits LoginLimits
	errors prometheus.Counter
}

// allow counts one login attempt for email from the request's client and answers a 429
// problem, with Retry-After, when either limit is spent. The client is checked first, so one
// address that is already refused cannot also spend the account's allowance.
//
// It fails open: when Redis cannot answer, the attempt goes on (logged and counted in
// flashcrowd_login_limit_errors_total). A login needs Redis anyway to store its session, so a
// Redis outage still stops logins, at that step; what failing open keeps working is a login
// while only the limiter's script fails or times out under load, and the password check
// itself (bcrypt, constant time for unknown accounts) stays as slow for a guesser as ever.
func (l *loginLimiter) allow(ctx context.Context, r *http.Request, email string) error {
	checks := []struct {
		key   string
		limit int
		whose string
	}{
		{"login:client:" + clientAddr(r), l.limits.PerClient, "from this address"},
		{"login:account:" + accountKey(email), l.limits.PerAccount, "for this account"},
	}
	for _, c := range checks {
		res, err := l.rl.Allow(ctx, c.key, redis_rate.PerMinute(c.limit))
		if err != nil {
			l.errors.Inc()
			web.Log(ctx).Error("login limit unavailable: the attempt is let through", "err", err)
			return nil
		}
		if res.Allowed == 0 {
			p := web.NewProblem(http.StatusTooManyRequests, "too many login attempts %s; try again later", c.whose)
			p.RetryAfter = max(1, int(math.Ceil(res.RetryAfter.Seconds())))
			return p
		}
	}
	return nil
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
