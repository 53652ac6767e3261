// Package applog builds the process logger: log/slog JSON lines at a level
// named as Lambda's advanced logging controls name them
// (AWS_LAMBDA_LOG_LEVEL, which package config reads; also used locally),
// default INFO.
package applog

import (
	"io"
	"log/slog"
	"strings"
)

// New returns a JSON logger writing to w at level.
func New(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
}

// Level parses a level name (DEBUG, INFO, WARN, ERROR; TRACE counts as DEBUG,
// FATAL as ERROR); anything else is INFO.
func Level(name string) slog.Level {
	switch strings.ToUpper(strings.TrimSpace(name)) {
	case "TRACE", "DEBUG":
		return slog.LevelDebug
	case "WARN", "WARNING":
		return slog.LevelWarn
	case "ERROR", "FATAL":
		return slog.LevelError
	}
	return slog.LevelInfo
}
