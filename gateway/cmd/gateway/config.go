package main

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/flashcrowd/flashcrowd/contracts/identity"
	"github.com/flashcrowd/flashcrowd/foundation/config"
	"github.com/flashcrowd/flashcrowd/foundation/web"
)

// Config is every variable the gateway reads; docs/configuration.md shows it (config.Doc).
type Config struct {
	config.Common
	web.Debug
	HTTPAddr          string        `env:"HTTP_ADDR" envDefault:":8080" desc:"Listen address. 'gateway healthcheck' probes 127.0.0.1:<port>/healthz."`
	UpstreamURL       url.URL       `env:"UPSTREAM_URL" envDefault:"http://haproxy:8081" desc:"Where /api/* is forwarded, and where the orders service's /internal/v1/customers* is called: HAProxy's internal frontend, http://host:port."`
	AdminToken        string        `env:"ADMIN_TOKEN,required" secret:"true" desc:"Bearer token for /api/v1/admin/*, and what the admin pages (/admin) take to sign in. The catalog checks it too."`
	ProxyMaxIdleConns int           `env:"PROXY_MAX_IDLE_CONNS" envDefault:"512" desc:"Idle keep-alive connections of the one proxy transport, in total and per host (2 to 100000): size it to the expected concurrency."`
	HTTPUnreadyDelay  time.Duration `env:"HTTP_UNREADY_DELAY" envDefault:"5s" desc:"On SIGTERM, how long the instance goes on serving while /readyz answers 503, so that HAProxy (two failed checks, within 3 s) stops sending it requests before it stops accepting them (0 to 20s)."`
	HTTPDrainTimeout  time.Duration `env:"HTTP_DRAIN_TIMEOUT" envDefault:"10s" desc:"On SIGTERM, how long in-flight requests may take to finish."`

	RedisAddr               string        `env:"REDIS_ADDR" envDefault:"redis:6379" desc:"Redis: customers' sessions and the login and checkout limits."`
	RedisSessionsUser       string        `env:"REDIS_SESSIONS_USER" envDefault:"sessions" desc:"Redis ACL user of the sessions (keys session:*) and rate limits (keys rate:login:*, rate:checkout:*)."`
	RedisSessionsPassword   string        `env:"REDIS_SESSIONS_PASSWORD,required" secret:"true" desc:"Its password."`
	SessionTTL              time.Duration `env:"SESSION_TTL" envDefault:"168h" desc:"A session lives this long after its last use, in Redis and in the browser (cookie Max-Age). 1m to 8760h."`
	IdentityKey             string        `env:"IDENTITY_KEY,required" secret:"true" desc:"Signs the X-Flashcrowd-Identity header that tells the services who is asking; the orders service verifies it with the same key. At least 32 characters."`
	PublicOrigins           []string      `env:"PUBLIC_ORIGINS" envDefault:"http://127.0.0.1:8080,http://localhost:8080,https://127.0.0.1:8443,https://localhost:8443" desc:"Comma-separated origins (scheme://host[:port]) whose pages may send cookie-authenticated writes (login, cart, checkout); other cross-origin browser writes get 403. A request from the gateway's own host is always allowed."`
	LoginLimitPerAccount    int           `env:"LOGIN_LIMIT_PER_ACCOUNT" envDefault:"5" desc:"Login attempts per minute for one email address, across all instances (1 to 100000); more get 429 with Retry-After."`
	LoginLimitPerClient     int           `env:"LOGIN_LIMIT_PER_CLIENT" envDefault:"30" desc:"Login attempts per minute from one client address (X-Forwarded-For as the edge sets it; IPv6 by /64), across all instances (1 to 100000)."`
	CheckoutLimitPerSession int           `env:"CHECKOUT_LIMIT_PER_SESSION" envDefault:"10" desc:"Checkouts per minute for one customer, or one guest session, across all instances (1 to 100000); more get 429 with Retry-After."`
}

// Validate checks what the tags cannot.
func (c *Config) Validate() error {
	var errs []error
	if c.HTTPUnreadyDelay < 0 || c.HTTPUnreadyDelay > 20*time.Second {
		errs = append(errs, fmt.Errorf("HTTP_UNREADY_DELAY=%s: want 0 to 20s", c.HTTPUnreadyDelay))
	}
	if u := c.UpstreamURL; u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		errs = append(errs, fmt.Errorf("UPSTREAM_URL=%q: want http://host:port", u.String()))
	}
	if c.ProxyMaxIdleConns < 2 || c.ProxyMaxIdleConns > 100_000 {
		errs = append(errs, fmt.Errorf("PROXY_MAX_IDLE_CONNS=%d: want 2 to 100000", c.ProxyMaxIdleConns))
	}
	if c.SessionTTL < time.Minute || c.SessionTTL > 8760*time.Hour {
		errs = append(errs, fmt.Errorf("SESSION_TTL=%s: want 1m to 8760h", c.SessionTTL))
	}
	// Even in development: every signature would fail with a shorter key.
	if len(c.IdentityKey) < identity.MinKeyLen {
		errs = append(errs, fmt.Errorf("IDENTITY_KEY: %d characters, want at least %d", len(c.IdentityKey), identity.MinKeyLen))
	}
	for _, o := range c.PublicOrigins {
		if err := http.NewCrossOriginProtection().AddTrustedOrigin(o); err != nil {
			errs = append(errs, fmt.Errorf("PUBLIC_ORIGINS: %q: want scheme://host[:port]", o))
		}
	}
	for name, n := range map[string]int{
		"LOGIN_LIMIT_PER_ACCOUNT": c.LoginLimitPerAccount, "LOGIN_LIMIT_PER_CLIENT": c.LoginLimitPerClient,
		"CHECKOUT_LIMIT_PER_SESSION": c.CheckoutLimitPerSession,
	} {
		if n < 1 || n > 100_000 {
			errs = append(errs, fmt.Errorf("%s=%d: want 1 to 100000", name, n))
		}
	}
	return errors.Join(errs...)
}
