// Package ident makes identifiers: time-sortable job IDs (ULIDs) and opaque
// object IDs.
package ident

import (
	"crypto/rand"
	"encoding/binary"
	"io"
	"sync"
	"time"
)

// crockford is the ULID alphabet (Crockford's base32, no I, L, O, U).
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// Generator makes ULIDs: 48 bits of milliseconds then 80 random bits,
// encoded as 26 characters that sort by time. Within one millisecond the
// random part increases monotonically, so IDs from one Generator are strictly
// increasing. A Generator is safe for concurrent use.
type Generator struct {
	mu      sync.Mutex
	rand    io.Reader
	lastMS  uint64
	lastRnd [10]byte
}

// NewGenerator returns a Generator reading randomness from r
// (crypto/rand.Reader when r is nil).
func NewGenerator(r io.Reader) *Generator {
	if r == nil {
		r = rand.Reader
	}
	return &Generator{rand: r}
}

// New returns a new ULID for time t.
func (g *Generator) New(t time.Time) (string, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	ms := uint64(t.UnixMilli())
	var rnd [10]byte
	if ms == g.lastMS {
		rnd = g.lastRnd
		for i := len(rnd) - 1; i >= 0; i-- { // increment, big-endian
			rnd[i]++
			if rnd[i] != 0 {
				break
			}
		}
	} else {
		if _, err := io.ReadFull(g.rand, rnd[:]); err != nil {
			return "", err
		}
	}
	g.lastMS, g.lastRnd = ms, rnd
	return encode(ms, rnd), nil
}

// encode writes the 128-bit value (ms<<80 | rnd) as 26 base32 characters.
func encode(ms uint64, rnd [10]byte) string {
	var b [16]byte
	var tb [8]byte
	binary.BigEndian.PutUint64(tb[:], ms)
	copy(b[:6], tb[2:])
	copy(b[6:], rnd[:])
	// 128 bits -> 26 chars; the first char carries the top 3 bits.
	var out [26]byte
	hi := binary.BigEndian.Uint64(b[:8])
	lo := binary.BigEndian.Uint64(b[8:])
	for i := 25; i >= 0; i-- {
		out[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(out[:])
}

// Time returns the millisecond timestamp encoded in a ULID, and false if id
// is not a ULID.
func Time(id string) (time.Time, bool) {
	if len(id) != 26 {
		return time.Time{}, false
	}
	var ms uint64
	for i := 0; i < 10; i++ {
		v := indexOf(id[i])
		if v < 0 {
			return time.Time{}, false
		}
		ms = ms<<5 | uint64(v)
	}
	for i := 10; i < 26; i++ {
		if indexOf(id[i]) < 0 {
			return time.Time{}, false
		}
	}
	return time.UnixMilli(int64(ms)).UTC(), true
}

func indexOf(c byte) int {
	for i := 0; i < len(crockford); i++ {
		if crockford[i] == c {
			return i
		}
	}
	return -1
}
