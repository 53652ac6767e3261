package ident

import (
	"bytes"
	"sort"
	"testing"
	"time"
)

func TestNewSortsByTimeAndIsMonotonic(t *testing.T) {
	g := NewGenerator(bytes.NewReader(bytes.Repeat([]byte{0xff, 0x01, 0x7f}, 1000)))
	base := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	var ids []string
	for i := 0; i < 50; i++ {
		// several IDs per millisecond, then the clock moves on
		id, err := g.New(base.Add(time.Duration(i/5) * time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if !sort.StringsAreSorted(ids) {
		t.Fatalf("ids not sorted: %v", ids)
	}
	for i := 1; i < len(ids); i++ {
		if ids[i] == ids[i-1] {
			t.Fatalf("duplicate id %s", ids[i])
		}
	}
	got, ok := Time(ids[len(ids)-1])
	if !ok || !got.Equal(base.Add(9*time.Millisecond)) {
		t.Fatalf("Time() = %v, %v; want %v", got, ok, base.Add(9*time.Millisecond))
	}
}

func TestTimeRejectsNonULID(t *testing.T) {
	for _, s := range []string{"", "short", "0123456789ABCDEFGHJKMNPQRI", "0123456789abcdefghjkmnpqrs"} {
		if _, ok := Time(s); ok {
			t.Errorf("Time(%q) accepted", s)
		}
	}
}

func TestEncodeKnownValue(t *testing.T) {
	// all-zero random part at 1 ms: only the last time character is 1.
	if got := encode(1, [10]byte{}); got != "00000000010000000000000000" {
		t.Fatalf("encode = %s", got)
	}
}
