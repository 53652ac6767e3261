// Package apiapp assembles the HTTP API from the environment. The Lambda
// binary (functions/api) and the local dev server both call it; they differ
// only in how callers are identified (API Gateway's verified claims on AWS,
// a local token verifier on the dev server).
package apiapp

import (
	"context"
	"io"
	"log/slog"
	"time"

	"github.com/ccbulk/bulkops/shared/applog"
	"github.com/ccbulk/bulkops/shared/authn"
	"github.com/ccbulk/bulkops/shared/awsenv"
	"github.com/ccbulk/bulkops/shared/dynamostore"
	"github.com/ccbulk/bulkops/shared/exportapp"
	"github.com/ccbulk/bulkops/shared/httpapi"
	"github.com/ccbulk/bulkops/shared/ident"
	"github.com/ccbulk/bulkops/shared/importapp"
	"github.com/ccbulk/bulkops/shared/s3store"
)

// New builds the API from the environment (the variables template.yaml
// sets), identifying callers with auth.
func New(ctx context.Context, getenv func(string) string, logOut io.Writer, auth authn.Authenticator) (*httpapi.API, error) {
	res, err := importapp.Open(ctx, getenv)
	if err != nil {
		return nil, err
	}
	api := Assemble(res.DB, res.Files, auth, applog.New(logOut))
	if fn := getenv("BULKOPS_EXPORT_FUNCTION"); fn != "" {
		api.Exports = exportapp.LambdaStarter{Client: awsenv.Lambda(res.AWS), Function: fn}
	}
	return api, nil
}

// Assemble builds the API from its parts; tests use it with their own
// tables and bucket.
func Assemble(db *dynamostore.Store, files *s3store.Store, auth authn.Authenticator, log *slog.Logger) *httpapi.API {
	ids := ident.NewGenerator(nil)
	return &httpapi.API{
		Auth: auth, Jobs: db, Locks: db, Settings: db, Files: files, Uploads: db, ExportStore: db, Schedules: db, Idempotency: db,
		NewID: func() (string, error) { return ids.New(time.Now()) },
		Now:   time.Now, Log: log,
	}
}
