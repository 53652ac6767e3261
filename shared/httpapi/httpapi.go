// Package httpapi is the service's HTTP API as a net/http handler. API
// Gateway reaches it through the Lambda adapter in this package; the local
// dev server serves the same handler directly.
//
// This is the walking skeleton's API: a health route. The versioned job,
// template, upload and export routes come with the API work.
package httpapi

import (
	"encoding/json"
	"net/http"
)

// New returns the API handler.
func New() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/health", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
