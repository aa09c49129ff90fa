package web

import (
	"fmt"
	"io"
	"log/slog"
)

// NewLogger returns the JSON logger every service uses, tagged with the service name.
// level is one of debug, info, warn, error.
func NewLogger(w io.Writer, service, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: %w", level, err)
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l})).With("service", service), nil
}
