// Package env reads a binary's configuration from environment variables with documented defaults.
// It collects every bad variable so a service fails fast at start with one message naming them all.
package env

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Reader reads typed values through an injected getenv, so tests pass their own.
type Reader struct {
	getenv func(string) string
	errs   []error
}

// New returns a Reader over getenv (os.Getenv in main).
func New(getenv func(string) string) *Reader { return &Reader{getenv: getenv} }

// String returns the variable, or def when it is unset or empty.
func (r *Reader) String(name, def string) string {
	if v := r.getenv(name); v != "" {
		return v
	}
	return def
}

// Required returns the variable and records an error when it is unset or empty.
func (r *Reader) Required(name string) string {
	v := r.getenv(name)
	if v == "" {
		r.errs = append(r.errs, fmt.Errorf("%s is required", name))
	}
	return v
}

// Int returns the variable as an int within [lo, hi], or def when unset.
func (r *Reader) Int(name string, def, lo, hi int) int {
	v := r.getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		r.errs = append(r.errs, fmt.Errorf("%s=%q: want an integer in [%d, %d]", name, v, lo, hi))
		return def
	}
	return n
}

// Duration returns the variable parsed by time.ParseDuration (e.g. "500ms", "2s"), or def when unset.
func (r *Reader) Duration(name string, def time.Duration) time.Duration {
	v := r.getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		r.errs = append(r.errs, fmt.Errorf("%s=%q: want a duration such as 500ms or 2s", name, v))
		return def
	}
	return d
}

// Bool returns the variable parsed by strconv.ParseBool, or def when unset.
func (r *Reader) Bool(name string, def bool) bool {
	v := r.getenv(name)
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		r.errs = append(r.errs, fmt.Errorf("%s=%q: want true or false", name, v))
		return def
	}
	return b
}

// Err reports every bad or missing variable seen so far, or nil.
func (r *Reader) Err() error {
	if len(r.errs) == 0 {
		return nil
	}
	return fmt.Errorf("configuration: %w", errors.Join(r.errs...))
}
