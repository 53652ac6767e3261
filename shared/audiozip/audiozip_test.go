package audiozip

import (
	"bytes"
	"encoding/binary"
	"io/fs"
	"strings"
	"testing"

	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/dev/audiotest"
)

// wav builds a WAV file: format code, channels, rate, bits, frames.
func wav(code uint16, channels, rate, bits, frames int) []byte {
	return audiotest.WAV(code, channels, rate, bits, frames, 0)
}

type zentry struct {
	name    string
	body    []byte
	mode    fs.FileMode
	deflate bool
}

func zipOf(t testing.TB, entries ...zentry) []byte {
	t.Helper()
	es := make([]audiotest.Entry, len(entries))
	for i, e := range entries {
		es[i] = audiotest.Entry{Name: e.name, Body: e.body, Mode: e.mode, Deflate: e.deflate}
	}
	b, err := audiotest.ZIP(es...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCheckWAV(t *testing.T) {
	good := wav(1, 1, 8000, 16, 8000)
	truncated := good[:len(good)-100]
	badAlign := wav(1, 1, 8000, 16, 10)
	binary.LittleEndian.PutUint16(badAlign[32:34], 3)
	tests := []struct {
		name string
		b    []byte
		want string // "ok <duration>" or the problem code
	}{
		{"pcm 8k mono 1s", good, "ok 1s"},
		{"pcm 16k stereo", wav(1, 2, 16000, 16, 8000), "ok 500ms"},
		{"µ-law", wav(7, 1, 8000, 8, 4000), "ok 500ms"},
		{"A-law", wav(6, 1, 8000, 8, 800), "ok 100ms"},
		{"not riff", []byte("ID3\x03 mp3 data here"), CodeNotWAV},
		{"empty", nil, CodeNotWAV},
		{"mp3 in wav", wav(0x55, 1, 8000, 16, 10), CodeBadFormat},
		{"rate", wav(1, 1, 12345, 16, 10), CodeBadFormat},
		{"5.1", wav(1, 6, 8000, 16, 10), CodeBadFormat},
		{"law 16 bit", wav(7, 1, 8000, 16, 10), CodeBadFormat},
		{"truncated data", truncated, CodeCorruptWAV},
		{"block align", badAlign, CodeCorruptWAV},
		{"no data", wav(1, 1, 8000, 16, 10)[:36], CodeCorruptWAV},
		{"silence of zero length", wav(1, 1, 8000, 16, 0), CodeCorruptWAV},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, p := CheckWAV(tt.b)
			got := ""
			if p != nil {
				got = p.Code
				if p.Message == "" || p.Hint == "" {
					t.Errorf("problem without message or hint: %+v", p)
				}
			} else {
				got = "ok " + w.Duration.String()
			}
			if got != tt.want {
				t.Fatalf("CheckWAV = %q (%+v), want %q", got, w, tt.want)
			}
		})
	}
}

func TestInspectEntries(t *testing.T) {
	good := wav(1, 1, 8000, 16, 800)
	z := zipOf(t,
		zentry{name: "prompts/", mode: fs.ModeDir | 0o755},
		zentry{name: "prompts/Welcome.wav", body: good},
		zentry{name: "prompts/sub/Goodbye.WAV", body: good, deflate: true},
		zentry{name: "readme.txt", body: []byte("hi")},
		zentry{name: "more.zip", body: zipOf(t, zentry{name: "x.wav", body: good})},
		zentry{name: "other/welcome.wav", body: good},
		zentry{name: strings.Repeat("n", 81) + ".wav", body: good},
	)
	es, err := Inspect(bytes.NewReader(z), int64(len(z)), DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"Welcome:ok", "Goodbye:ok", "readme:" + CodeNotWAV, "more:" + CodeNestedZIP, "welcome:" + CodeDuplicate, strings.Repeat("n", 81) + ":" + CodeNameLong}
	var got []string
	for i, e := range es {
		s := e.Name + ":ok"
		if e.Problem != nil {
			s = e.Name + ":" + e.Problem.Code
		}
		got = append(got, s)
		if e.Row != i+2 {
			t.Errorf("entry %d has row %d", i, e.Row)
		}
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("entries:\n got %v\nwant %v", got, want)
	}
	if !strings.Contains(es[4].Problem.Message, "row 2") {
		t.Errorf("duplicate does not name the first row: %s", es[4].Problem.Message)
	}
	var buf bytes.Buffer
	for _, e := range es[:2] {
		p, err := ReadEntry(bytes.NewReader(z), int64(len(z)), e, &buf)
		if err != nil || p != nil || !bytes.Equal(buf.Bytes(), good) {
			t.Fatalf("read %s: %v %+v (%d bytes)", e.Path, err, p, buf.Len())
		}
	}
}

func TestHostileArchivesAreRefused(t *testing.T) {
	good := wav(1, 1, 8000, 16, 800)
	small := Limits{MaxArchiveBytes: 1 << 20, MaxEntries: 3, MaxEntryBytes: 256 << 10, MaxTotalBytes: 300 << 10, MaxRatio: 100}
	tests := []struct {
		name string
		zip  []byte
		want string
	}{
		{"dot dot", zipOf(t, zentry{name: "../../etc/evil.wav", body: good}), "points outside the archive"},
		{"absolute", zipOf(t, zentry{name: "/tmp/evil.wav", body: good}), "points outside the archive"},
		{"windows drive", zipOf(t, zentry{name: "C:\\evil.wav", body: good}), "points outside the archive"},
		{"backslash dot dot", zipOf(t, zentry{name: "a\\..\\..\\evil.wav", body: good}), "points outside the archive"},
		{"symlink", zipOf(t, zentry{name: "link.wav", body: []byte("/etc/passwd"), mode: fs.ModeSymlink | 0o777}), "symbolic link"},
		{"bomb ratio", zipOf(t, zentry{name: "zeros.wav", body: make([]byte, 200<<10), deflate: true}), "zip bomb"},
		{"entry too big", zipOf(t, zentry{name: "big.wav", body: bytes.Repeat(good, 400)}), "per file"},
		{"total too big", zipOf(t, zentry{name: "a.wav", body: bytes.Repeat(good, 100)}, zentry{name: "b.wav", body: bytes.Repeat(good, 100)}), "unpacks to more than"},
		{"too many entries", zipOf(t, zentry{name: "a.wav", body: good}, zentry{name: "b.wav", body: good}, zentry{name: "c.wav", body: good}, zentry{name: "d.wav", body: good}), "4 entries"},
		{"not a zip", good, "not a readable ZIP"},
		{"empty zip", zipOf(t), "holds no files"},
		{"archive too big", make([]byte, 1<<20+1), "split the prompts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Inspect(bytes.NewReader(tt.zip), int64(len(tt.zip)), small)
			if err == nil || bulkerr.KindOf(err) != bulkerr.Invalid || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Inspect: %v; want Invalid containing %q", err, tt.want)
			}
		})
	}
}

// TestLyingHeaderCannotReadMore: an entry whose data is longer than its
// header declares is rejected, not read past the declared size.
func TestLyingHeaderCannotReadMore(t *testing.T) {
	good := wav(1, 1, 8000, 16, 800)
	z := zipOf(t, zentry{name: "a.wav", body: good})
	es, err := Inspect(bytes.NewReader(z), int64(len(z)), DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	e := es[0]
	e.Size -= 100 // as if the header under-declared the size
	var buf bytes.Buffer
	p, err := ReadEntry(bytes.NewReader(z), int64(len(z)), e, &buf)
	if err != nil || p == nil || p.Code != CodeEntryError || int64(buf.Len()) > e.Size+1 {
		t.Fatalf("got %+v %v with %d bytes read", p, err, buf.Len())
	}
}

// FuzzInspect: on any bytes, Inspect and reading every accepted entry and
// checking it as a WAV never panic, every error is Invalid, and no entry
// reads more than its declared size.
func FuzzInspect(f *testing.F) {
	good := wav(1, 1, 8000, 16, 80)
	f.Add(zipOf(f, zentry{name: "a/b.wav", body: good}, zentry{name: "c.txt", body: []byte("x")}))
	f.Add(zipOf(f, zentry{name: "z.wav", body: good, deflate: true}))
	f.Add(zipOf(f, zentry{name: "../x.wav", body: good}))
	f.Add(good)
	f.Fuzz(func(t *testing.T, b []byte) {
		l := Limits{MaxArchiveBytes: 1 << 20, MaxEntries: 20, MaxEntryBytes: 64 << 10, MaxTotalBytes: 256 << 10, MaxRatio: 100}
		es, err := Inspect(bytes.NewReader(b), int64(len(b)), l)
		if err != nil {
			if bulkerr.KindOf(err) != bulkerr.Invalid {
				t.Fatalf("non-Invalid error: %v", err)
			}
			return
		}
		var buf bytes.Buffer
		for _, e := range es {
			if e.Problem != nil {
				continue
			}
			p, err := ReadEntry(bytes.NewReader(b), int64(len(b)), e, &buf)
			if err != nil && bulkerr.KindOf(err) != bulkerr.Invalid {
				t.Fatalf("read: %v", err)
			}
			if int64(buf.Len()) > e.Size+1 {
				t.Fatalf("read %d bytes of an entry declared %d", buf.Len(), e.Size)
			}
			if p == nil && err == nil {
				CheckWAV(buf.Bytes())
			}
		}
	})
}
