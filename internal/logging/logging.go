// Package logging makes the slog handlers of xlgo's processes: text
// (key=value) or JSON lines on standard error.
package logging

import (
	"fmt"
	"io"
	"log/slog"
)

// Handler writes records of level and above to w in format, "text" or
// "json". The level is a LevelVar so that a reload can change it.
func Handler(w io.Writer, format string, level *slog.LevelVar) (slog.Handler, error) {
	opts := &slog.HandlerOptions{Level: level}
	switch format {
	case "", "text":
		return slog.NewTextHandler(w, opts), nil
	case "json":
		return slog.NewJSONHandler(w, opts), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

// ParseLevel reads debug, info, warn or error.
func ParseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("--log-level %q: want debug, info, warn or error", s)
	}
	return l, nil
}
