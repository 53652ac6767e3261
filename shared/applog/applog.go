// Package applog builds the process logger: log/slog JSON lines, level from
// AWS_LAMBDA_LOG_LEVEL (set by Lambda's advanced logging controls; also used
// locally), default INFO.
package applog

import (
	"io"
	"log/slog"
	"os"
	"strings"
)

// New returns a JSON logger writing to w at the level named by
// AWS_LAMBDA_LOG_LEVEL.
func New(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: Level(os.Getenv("AWS_LAMBDA_LOG_LEVEL"))}))
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
