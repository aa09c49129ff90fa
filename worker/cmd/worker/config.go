package main

import (
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/flashcrowd/flashcrowd/foundation/config"
	"github.com/flashcrowd/flashcrowd/foundation/web"
	"github.com/flashcrowd/flashcrowd/worker/images"
)

// Config is every variable the worker reads; docs/configuration.md shows it (config.Doc).
type Config struct {
	config.Common
	web.Debug
	HTTPAddr           string        `env:"HTTP_ADDR" envDefault:":8080" desc:"Health and metrics listener. 'worker healthcheck' probes 127.0.0.1:<port>/healthz."`
	RedisQueueAddr     string        `env:"REDIS_QUEUE_ADDR" envDefault:"redis-queue:6379" desc:"The queue Redis, holding the asynq queues."`
	RedisQueueUser     string        `env:"REDIS_QUEUE_USER" envDefault:"worker" desc:"Its ACL user (keys asynq:*)."`
	RedisQueuePassword string        `env:"REDIS_QUEUE_PASSWORD,required" secret:"true" desc:"Its password."`
	S3Endpoint         string        `env:"S3_ENDPOINT" envDefault:"http://minio:9000" desc:"Object store the images are read from, and the thumbnails and sales reports written to."`
	S3AccessKey        string        `env:"S3_ACCESS_KEY,required" desc:"Object store access key."`
	S3SecretKey        string        `env:"S3_SECRET_KEY,required" secret:"true" desc:"Object store secret key."`
	S3Bucket           string        `env:"S3_BUCKET" envDefault:"media" desc:"Bucket of images and thumbnails; the sales reports go under reports/sales/ in it (a private prefix: only products/ and thumbs/ are public)."`
	Concurrency        int           `env:"WORKER_CONCURRENCY" envDefault:"8" desc:"Tasks this instance processes at once (1 to 1000), from two queues: critical (confirmation emails) gets about two thirds of them when both have work, default (webhooks, thumbnails, scheduled jobs) the rest."`
	DecodeMemoryMiB    int64         `env:"WORKER_DECODE_MEMORY_MIB" envDefault:"256" desc:"MiB that thumbnails in flight may hold together; each waits for its share (8 bytes a pixel decoded, plus the scaler's scratch: at most 251 MB, for a 5000×5000 image; images are at most 25 megapixels and 20000 pixels a side). Keep it below the container's memory limit, with room for the rest of the process."`
	HTTPDrainTimeout   time.Duration `env:"HTTP_DRAIN_TIMEOUT" envDefault:"5s" desc:"On SIGTERM, how long health and metrics requests in flight may take; the task drain follows."`
	TaskDrainTimeout   time.Duration `env:"TASK_DRAIN_TIMEOUT" envDefault:"20s" desc:"On SIGTERM, how long running tasks may finish before asynq hands them back to the queue. With the HTTP drain it must fit compose's 30 s stop grace period."`

	Mail
	Webhooks
	Jobs
}

// Mail is where the order confirmations go out.
type Mail struct {
	SMTPAddr    string        `env:"SMTP_ADDR" envDefault:"mailpit:1025" desc:"SMTP server (host:port) the order confirmations are sent through; STARTTLS when it offers it. A failed send is retried by asynq, an address the server refuses for good is not."`
	MailFrom    string        `env:"MAIL_FROM" envDefault:"Flashcrowd <orders@flashcrowd.test>" desc:"From of the confirmations; its domain also names their Message-ID, <order-<id>@domain>, the same for every copy of one order's email, so duplicates can be counted."`
	SMTPTimeout time.Duration `env:"SMTP_TIMEOUT" envDefault:"10s" desc:"Longest wait for the SMTP server, to connect and for each answer (1s to 25s: the task times out at 30s)."`
}

// Webhooks is where order events are POSTed, and how.
type Webhooks struct {
	URLs     []string      `env:"WEBHOOK_URLS" desc:"Comma-separated http(s) URLs each order event is POSTed to, signed with WEBHOOK_SECRET. Empty: events are dropped. The worker delivers only to URLs still listed here."`
	Secret   string        `env:"WEBHOOK_SECRET" secret:"true" desc:"HMAC-SHA256 key of X-Flashcrowd-Signature: sha256=hex(HMAC(key, timestamp + \".\" + body)). Required when WEBHOOK_URLS is set."`
	MaxRetry int           `env:"WEBHOOK_MAX_RETRY" envDefault:"8" desc:"Retries of a delivery that failed (network error, 408, 429, 5xx), 1 s then doubling with jitter, up to 10 min apart; after the last one it is archived, asynq's dead letters (0 to 25). A 4xx other than 408 and 429 is archived at once."`
	Timeout  time.Duration `env:"WEBHOOK_TIMEOUT" envDefault:"5s" desc:"Longest a delivery waits for the endpoint's answer (100ms to 14s: the task times out at 15s)."`
}

// Jobs are the scheduled jobs, run once per period across every instance.
type Jobs struct {
	DatabaseReadURL   string        `env:"DATABASE_READ_URL" secret:"url" desc:"Read pool (role flashcrowd_app, replicas) the sales report and the best sellers are read from. Empty: no database; the sales report is disabled and the cache warm-up fetches the featured products only. The worker starts without it."`
	DBMaxConns        int           `env:"DB_MAX_CONNS" envDefault:"2" desc:"Connections of the read pool in this instance (1 to 100): the jobs run one query at a time."`
	SalesReportPeriod time.Duration `env:"SALES_REPORT_PERIOD" envDefault:"1h" desc:"Period of the sales report: after each period ends, one instance writes its orders (no email addresses) to reports/sales/<period start, RFC 3339>.csv. Periods are aligned on the Unix epoch. 0 disables it; else at least 1s."`
	CacheWarmPeriod   time.Duration `env:"CACHE_WARM_PERIOD" envDefault:"1m" desc:"Period of the catalog cache warm-up: once per period one instance fetches the day's best sellers and the featured list through CATALOG_URL, so an emptied Redis refills before shoppers miss. 0 disables it; else at least 1s."`
	CacheWarmProducts int           `env:"CACHE_WARM_PRODUCTS" envDefault:"100" desc:"How many of the day's best-selling products the warm-up fetches (0 to 10000)."`
	CatalogURL        url.URL       `env:"CATALOG_URL" envDefault:"http://haproxy:8081" desc:"The catalog's public API, behind the internal load balancer, that the warm-up reads through."`
}

// Validate checks what the tags cannot.
func (c *Config) Validate() error {
	var errs []error
	if c.Concurrency < 1 || c.Concurrency > 1000 {
		errs = append(errs, fmt.Errorf("WORKER_CONCURRENCY=%d: want 1 to 1000", c.Concurrency))
	}
	if c.DecodeMemoryMiB<<20 < images.MaxDecodeBytes {
		errs = append(errs, fmt.Errorf("WORKER_DECODE_MEMORY_MIB=%d: the largest image accepted needs %d MiB", c.DecodeMemoryMiB, (images.MaxDecodeBytes+1<<20-1)>>20))
	}
	return errors.Join(append(errs, c.Mail.validate(), c.Webhooks.validate(), c.Jobs.validate())...)
}

func (m *Mail) validate() error {
	var errs []error
	if host, port, err := net.SplitHostPort(m.SMTPAddr); err != nil || host == "" {
		errs = append(errs, fmt.Errorf("SMTP_ADDR=%q: want host:port", m.SMTPAddr))
	} else if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		errs = append(errs, fmt.Errorf("SMTP_ADDR=%q: want a port from 1 to 65535", m.SMTPAddr))
	}
	if _, err := mail.ParseAddress(m.MailFrom); err != nil {
		errs = append(errs, fmt.Errorf("MAIL_FROM=%q: want an address such as Shop <orders@example.com>: %v", m.MailFrom, err))
	}
	if m.SMTPTimeout < time.Second || m.SMTPTimeout > 25*time.Second {
		errs = append(errs, fmt.Errorf("SMTP_TIMEOUT=%s: want 1s to 25s", m.SMTPTimeout))
	}
	return errors.Join(errs...)
}

func (w *Webhooks) validate() error {
	var errs []error
	// "a, b," lists a and b: spaces and empty entries are dropped before anything reads the list.
	urls := w.URLs[:0]
	for _, s := range w.URLs {
		if s = strings.TrimSpace(s); s != "" {
			urls = append(urls, s)
		}
	}
	w.URLs = urls
	for _, s := range w.URLs {
		if u, err := url.Parse(s); err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || u.User != nil {
			errs = append(errs, fmt.Errorf("WEBHOOK_URLS: %q: want http(s)://host[:port]/path, without credentials", s))
		}
	}
	if len(w.URLs) > 0 && w.Secret == "" {
		errs = append(errs, errors.New("WEBHOOK_SECRET: required when WEBHOOK_URLS is set"))
	}
	if w.MaxRetry < 0 || w.MaxRetry > 25 {
		errs = append(errs, fmt.Errorf("WEBHOOK_MAX_RETRY=%d: want 0 to 25", w.MaxRetry))
	}
	if w.Timeout < 100*time.Millisecond || w.Timeout > 14*time.Second {
		errs = append(errs, fmt.Errorf("WEBHOOK_TIMEOUT=%s: want 100ms to 14s", w.Timeout))
	}
	return errors.Join(errs...)
}

func (j *Jobs) validate() error {
	var errs []error
	if j.DBMaxConns < 1 || j.DBMaxConns > 100 {
		errs = append(errs, fmt.Errorf("DB_MAX_CONNS=%d: want 1 to 100", j.DBMaxConns))
	}
	for name, p := range map[string]time.Duration{"SALES_REPORT_PERIOD": j.SalesReportPeriod, "CACHE_WARM_PERIOD": j.CacheWarmPeriod} {
		if p != 0 && p < time.Second {
			errs = append(errs, fmt.Errorf("%s=%s: want 0 (disabled) or at least 1s", name, p))
		}
	}
	if j.CacheWarmProducts < 0 || j.CacheWarmProducts > 10000 {
		errs = append(errs, fmt.Errorf("CACHE_WARM_PRODUCTS=%d: want 0 to 10000", j.CacheWarmProducts))
	}
	if j.CatalogURL.Host == "" || (j.CatalogURL.Scheme != "http" && j.CatalogURL.Scheme != "https") {
		errs = append(errs, errors.New("CATALOG_URL: want http(s)://host[:port]"))
	}
	return errors.Join(errs...)
}
