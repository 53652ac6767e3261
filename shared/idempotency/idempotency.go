// Package idempotency holds what is kept for a request sent with an
// Idempotency-Key, so that a retry of it gets the same answer instead of
// doing the work twice: the API decides what to keep (httpapi), a store
// keeps it per tenant and key (dynamostore). It imports nothing from AWS.
package idempotency

// Response is what the API answered to a request sent with an
// Idempotency-Key, kept to answer the same again to a retry of it. Status
// 0 means the first request is still being answered.
type Response struct {
	// Hash identifies the request (method, path and body) the key was
	// first used with.
	Hash   string
	Status int
	Header map[string]string
	Body   []byte
}
