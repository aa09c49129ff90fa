// Package config loads a binary's configuration from environment variables into one Config
// struct per binary, the only place that binary reads a variable. Each field names its variable,
// default and meaning in struct tags:
//
//	HTTPAddr string `env:"HTTP_ADDR" envDefault:":8080" desc:"Listen address."`
//
// Doc renders those tags as the binary's table in docs/configuration.md, and a test per binary
// fails when the page and the struct disagree, so a variable cannot go undocumented.
//
// Secrets carry `secret:"true"` (or `secret:"url"` for a URL whose password is the secret):
// outside development mode (FLASHCROWD_ENV=development) a secret that is empty, shorter than
// MinSecretLen or a development default (they all start with "dev-") stops the binary at start.
package config

import (
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"strings"

	"github.com/caarlos0/env/v11"
)

// Development is the only mode that accepts the development secrets of .env.
const Development = "development"

// MinSecretLen is the shortest secret accepted outside development mode.
const MinSecretLen = 16

// devPrefix marks every development secret in .env.
const devPrefix = "dev-"

// Common holds what every binary reads. Embed it in each Config.
type Common struct {
	Env      string `env:"FLASHCROWD_ENV" envDefault:"production" desc:"Mode: 'development' accepts the development secrets of .env; any other value refuses a secret that is empty, shorter than 16 characters or starts with dev-."`
	LogLevel string `env:"LOG_LEVEL" envDefault:"info" desc:"debug, info, warn or error. The per-request access log is at debug."`
}

// Validator is implemented by a Config with rules its tags cannot say (ranges, formats).
type Validator interface {
	Validate() error
}

// Load fills cfg, a pointer to a Config struct, from getenv (os.Getenv in main); an empty
// variable counts as unset. It then runs cfg.Validate, when cfg has one, and the secret rules.
// The error names every bad variable.
func Load(cfg any, getenv func(string) string) error {
	params, err := env.GetFieldParams(cfg)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	vars := map[string]string{}
	for _, p := range params {
		if v := getenv(p.Key); v != "" {
			vars[p.Key] = v
		}
	}
	var errs []error
	if err := env.ParseWithOptions(cfg, env.Options{Environment: vars}); err != nil {
		errs = append(errs, parseErrors(cfg, vars, err)...)
	}
	if v, ok := cfg.(Validator); ok {
		if err := v.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, checkSecrets(cfg)...)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	return nil
}

// parseErrors restates env's errors with the variable's name and value: env names the Go field.
func parseErrors(cfg any, vars map[string]string, err error) []error {
	keys := map[string]string{} // Go field name → variable
	walk(reflect.ValueOf(cfg), func(f field) { keys[f.name] = f.env })
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return []error{err}
	}
	out := make([]error, 0, len(agg.Errors))
	for _, e := range agg.Errors {
		var pe env.ParseError
		if errors.As(e, &pe) && keys[pe.Name] != "" {
			key := keys[pe.Name]
			e = fmt.Errorf("%s=%q: want a %s", key, vars[key], kind(pe.Type))
		}
		out = append(out, e)
	}
	return out
}

func kind(t reflect.Type) string {
	switch {
	case t.String() == "time.Duration":
		return "duration such as 500ms or 2s"
	case t.String() == "url.URL":
		return "URL such as http://host:port"
	case t.Kind() == reflect.Bool:
		return "boolean (true or false)"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		return "whole number"
	}
	return t.String()
}

// checkSecrets applies the secret rules to every field tagged secret, outside development mode.
func checkSecrets(cfg any) []error {
	var mode string
	var errs []error
	var secrets []field
	walk(reflect.ValueOf(cfg), func(f field) {
		if f.env == "FLASHCROWD_ENV" {
			mode = f.value.String()
		}
		if f.secret != "" {
			secrets = append(secrets, f)
		}
	})
	if mode == Development {
		return nil
	}
	for _, f := range secrets {
		s := f.value.String()
		if s == "" && !f.required {
			continue // an optional secret left out (a required one is refused by Load)
		}
		if f.secret == "url" {
			u, err := url.Parse(s)
			if err != nil || u.User == nil {
				errs = append(errs, fmt.Errorf("%s: the URL must carry a password outside development mode", f.env))
				continue
			}
			s, _ = u.User.Password()
		}
		switch {
		case s == "":
			errs = append(errs, fmt.Errorf("%s: empty; set a secret (make secrets writes fresh ones)", f.env))
		case strings.HasPrefix(s, devPrefix):
			errs = append(errs, fmt.Errorf("%s: a development secret is accepted only with FLASHCROWD_ENV=development (make secrets writes fresh ones)", f.env))
		case len(s) < MinSecretLen:
			errs = append(errs, fmt.Errorf("%s: shorter than %d characters", f.env, MinSecretLen))
		}
	}
	return errs
}

// field is one variable of a Config struct, as its tags describe it.
type field struct {
	name, env, def, desc, secret string
	required                     bool
	value                        reflect.Value
}

// walk calls fn for every field with an env tag, in declaration order, entering embedded structs.
func walk(v reflect.Value, fn func(field)) {
	for v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	t := v.Type()
	for i := range t.NumField() {
		sf := t.Field(i)
		if sf.Anonymous && sf.Type.Kind() == reflect.Struct {
			walk(v.Field(i), fn)
			continue
		}
		key, opts, _ := strings.Cut(sf.Tag.Get("env"), ",")
		if key == "" {
			continue
		}
		fn(field{name: sf.Name, env: key, def: sf.Tag.Get("envDefault"), required: strings.Contains(","+opts+",", ",required,"), desc: sf.Tag.Get("desc"), secret: sf.Tag.Get("secret"), value: v.Field(i)})
	}
}
