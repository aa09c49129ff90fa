package main

import (
	"fmt"
	"net/url"
	"time"

	"github.com/flashcrowd/flashcrowd/foundation/config"
)

// Config is every variable the gateway reads; docs/configuration.md shows it (config.Doc).
type Config struct {
	config.Common
	HTTPAddr          string        `env:"HTTP_ADDR" envDefault:":8080" desc:"Listen address. 'gateway healthcheck' probes 127.0.0.1:<port>/healthz."`
	UpstreamURL       url.URL       `env:"UPSTREAM_URL" envDefault:"http://haproxy:8081" desc:"Where /api/* is forwarded: HAProxy's internal frontend, http://host:port."`
	AdminToken        string        `env:"ADMIN_TOKEN,required" secret:"true" desc:"Bearer token for /api/v1/admin/*. The catalog checks it too."`
	ProxyMaxIdleConns int           `env:"PROXY_MAX_IDLE_CONNS" envDefault:"512" desc:"Idle keep-alive connections of the one proxy transport, in total and per host (2 to 100000): size it to the expected concurrency."`
	HTTPDrainTimeout  time.Duration `env:"HTTP_DRAIN_TIMEOUT" envDefault:"10s" desc:"On SIGTERM, how long in-flight requests may take to finish."`
}

// Validate checks what the tags cannot.
func (c *Config) Validate() error {
	if u := c.UpstreamURL; u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return fmt.Errorf("UPSTREAM_URL=%q: want http://host:port", u.String())
	}
	if c.ProxyMaxIdleConns < 2 || c.ProxyMaxIdleConns > 100_000 {
		return fmt.Errorf("PROXY_MAX_IDLE_CONNS=%d: want 2 to 100000", c.ProxyMaxIdleConns)
	}
	return nil
}
