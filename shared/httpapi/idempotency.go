package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"time"

	"github.com/ccbulk/bulkops/shared/authn"
	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/idempotency"
)

// idempotencyStore keeps the answers to POSTs sent with an
// Idempotency-Key (dynamostore.Store).
type idempotencyStore interface {
	ClaimIdempotencyKey(ctx context.Context, tenant, key, hash string, lease time.Duration) (idempotency.Response, bool, error)
	SaveIdempotentResponse(ctx context.Context, tenant, key string, r idempotency.Response, keep time.Duration) error
	ReleaseIdempotencyKey(ctx context.Context, tenant, key, hash string) error
}

const (
	// maxKeyLength is the longest Idempotency-Key accepted.
	maxKeyLength = 255
	// idempotencyLease is how long a request holds its key while being
	// answered; a request that dies meanwhile frees the key after it.
	idempotencyLease = time.Minute
	// maxStoredAnswer is the largest answer kept for replay.
	maxStoredAnswer = 256 << 10
)

// replayedHeaders are the answer's headers a replay repeats.
var replayedHeaders = []string{"Content-Type", "Location", "ETag"}

// idempotent wraps a POST handler: with an Idempotency-Key header, the
// first request with that key (per tenant) is answered and a successful
// answer is kept IdempotencyTTL; a retry with the same key and the same
// request (method, path, body) gets that answer again (header
// Idempotent-Replayed: true) without doing anything twice; the same key
// with another request is refused (422 IDEMPOTENCY_KEY_REUSED); a retry
// while the first is still being answered gets 409. Error answers are not
// kept, so a request that failed (a busy tenant, say) can be retried with
// the same key.
func idempotent(next func(a *API, w http.ResponseWriter, r *http.Request, id authn.Identity) error) func(a *API, w http.ResponseWriter, r *http.Request, id authn.Identity) error {
	return func(a *API, w http.ResponseWriter, r *http.Request, id authn.Identity) error {
		key := r.Header.Get("Idempotency-Key")
		if key == "" || a.Idempotency == nil {
			return next(a, w, r, id)
		}
		if len(key) > maxKeyLength || !printable(key) {
			return bulkerr.New(bulkerr.Invalid, "the Idempotency-Key header must be 1 to %d printable ASCII characters (a UUID, say)", maxKeyLength)
		}
		body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBody))
		if err != nil {
			return bodyError(err)
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		hash := requestHash(r.Method, r.URL.Path, body)
		ctx := r.Context()
		rec, claimed, err := a.Idempotency.ClaimIdempotencyKey(ctx, id.Tenant, key, hash, idempotencyLease)
		if err != nil {
			return err
		}
		if !claimed {
			switch {
			case rec.Hash != hash:
				return bulkerr.New(bulkerr.KeyReused, "this Idempotency-Key was already used for a different request (another path or body) in the last %s; send a new key with a new request", a.IdempotencyTTL)
			case rec.Status == 0:
				return bulkerr.New(bulkerr.Conflict, "a request with this Idempotency-Key is still being answered; retry it in a few seconds")
			}
			for k, v := range rec.Header {
				w.Header().Set(k, v)
			}
			w.Header().Set("Idempotent-Replayed", "true")
			w.WriteHeader(rec.Status)
			_, err := w.Write(rec.Body)
			return err
		}
		cw := &capture{ResponseWriter: w}
		herr := next(a, cw, r, id)
		if herr != nil {
			a.problem(cw, r, herr)
		}
		bg := context.WithoutCancel(ctx)
		if cw.status < 200 || cw.status > 299 || cw.overflow {
			if err := a.Idempotency.ReleaseIdempotencyKey(bg, id.Tenant, key, hash); err != nil {
				a.Log.ErrorContext(ctx, "releasing an idempotency key", "tenant", id.Tenant, "err", err.Error())
			}
			return nil
		}
		header := map[string]string{}
		for _, h := range replayedHeaders {
			if v := cw.Header().Get(h); v != "" {
				header[h] = v
			}
		}
		if err := a.Idempotency.SaveIdempotentResponse(bg, id.Tenant, key, idempotency.Response{
			Hash: hash, Status: cw.status, Header: header, Body: cw.body.Bytes(),
		}, a.IdempotencyTTL); err != nil {
			// The answer was sent; a retry will do the work again.
			a.Log.ErrorContext(ctx, "storing an idempotent answer", "tenant", id.Tenant, "err", err.Error())
		}
		return nil
	}
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// requestHash identifies a request by method, path and body; a JSON body
// is compacted first, so spacing does not make it another request.
func requestHash(method, path string, body []byte) string {
	var compact bytes.Buffer
	if json.Compact(&compact, body) == nil {
		body = compact.Bytes()
	}
	h := sha256.New()
	h.Write([]byte(method + " " + path + "\n"))
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// capture passes an answer through and keeps a copy of it.
type capture struct {
	http.ResponseWriter
	status   int
	body     bytes.Buffer
	overflow bool
}

func (c *capture) WriteHeader(status int) {
	if c.status == 0 {
		c.status = status
	}
	c.ResponseWriter.WriteHeader(status)
}

func (c *capture) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	if c.body.Len()+len(b) > maxStoredAnswer {
		c.overflow = true
	} else {
		c.body.Write(b)
	}
	return c.ResponseWriter.Write(b)
}
