package csvread

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"

	"github.com/ccbulk/bulkops/shared/bulkerr"
)

// Encodings a file can be read in. Stored files and reports are UTF-8
// whatever the upload was.
const (
	UTF8        = "utf-8"
	Windows1252 = "windows-1252"
	ShiftJIS    = "shift_jis" // Microsoft's CP932 variant, as Excel writes it
)

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// fixEncoding is the advice given for a file that cannot be read.
const fixEncoding = "save it from Excel with \"CSV UTF-8 (comma delimited)\", or from another program as UTF-8"

// sniff decides the encoding of a file from its first bytes: a UTF-8 BOM or
// valid UTF-8 is UTF-8; otherwise Shift-JIS when every non-ASCII byte forms
// a valid Shift-JIS character and nearly all of them are Japanese
// (kana, kanji, full-width forms); otherwise Windows-1252 when every byte is
// defined there. UTF-16 and anything else are rejected with the fix.
func sniff(head []byte, atEOF bool) (string, error) {
	if bytes.HasPrefix(head, utf8BOM) {
		return UTF8, nil
	}
	if bytes.HasPrefix(head, []byte{0xFF, 0xFE}) || bytes.HasPrefix(head, []byte{0xFE, 0xFF}) {
		return "", bulkerr.New(bulkerr.Invalid, "the file is UTF-16 (Excel's \"Unicode Text\"); "+fixEncoding)
	}
	if validUTF8Prefix(head, atEOF) {
		return UTF8, nil
	}
	if plausibleShiftJIS(head, atEOF) {
		return ShiftJIS, nil
	}
	// Five bytes are undefined in Windows-1252.
	if !hasUndefined1252(head) {
		return Windows1252, nil
	}
	return "", bulkerr.New(bulkerr.Invalid, "the file's text encoding is not UTF-8, Windows-1252 or Shift-JIS; "+fixEncoding)
}

// validUTF8Prefix reports whether b is valid UTF-8, allowing a rune cut off
// at the end of the sample.
func validUTF8Prefix(b []byte, atEOF bool) bool {
	if utf8.Valid(b) {
		return true
	}
	if atEOF {
		return false
	}
	for cut := 1; cut < utf8.UTFMax && cut <= len(b); cut++ {
		if utf8.Valid(b[:len(b)-cut]) {
			return true
		}
	}
	return false
}

// plausibleShiftJIS decodes b as Shift-JIS and accepts it when nothing is
// invalid and at least 80% of the non-ASCII characters are Japanese.
func plausibleShiftJIS(b []byte, atEOF bool) bool {
	if !atEOF {
		b = b[:sjisBoundary(b)]
	}
	out, err := japanese.ShiftJIS.NewDecoder().Bytes(b)
	if err != nil || bytes.ContainsRune(out, utf8.RuneError) {
		return false
	}
	nonASCII, japaneseRunes := 0, 0
	for _, r := range string(out) {
		if r < 0x80 {
			continue
		}
		nonASCII++
		switch {
		case r >= 0x3000 && r <= 0x30FF, // CJK punctuation, hiragana, katakana
			r >= 0x4E00 && r <= 0x9FFF, // CJK ideographs
			r >= 0xFF00 && r <= 0xFFEF, // full-width and half-width forms
			r >= 0x2010 && r <= 0x2312: // punctuation and symbols JIS carries
			japaneseRunes++
		}
	}
	return nonASCII > 0 && japaneseRunes*10 >= nonASCII*8
}

// sjisLead reports whether c starts a two-byte Shift-JIS character.
func sjisLead(c byte) bool { return c >= 0x81 && c <= 0x9F || c >= 0xE0 && c <= 0xFC }

// sjisBoundary returns the length of the longest prefix of b that ends on
// a character boundary.
func sjisBoundary(b []byte) int {
	i := 0
	for i < len(b) {
		if sjisLead(b[i]) {
			if i+1 >= len(b) {
				return i
			}
			i += 2
			continue
		}
		i++
	}
	return i
}

// decoder turns the source bytes into UTF-8 and remembers, for each line
// end it emitted, the source offset of that line end, so the CSV reader's
// output offsets map back to byte ranges of the original object. Newline
// (0x0A) never occurs inside a character in any supported encoding, so
// decoding line by line is exact.
type decoder struct {
	src      *bufio.Reader
	encoding string
	in, out  int64 // bytes consumed from src, bytes produced
	base     int64 // source offset of the first byte src delivers
	marks    []mark
	pending  []byte
	carry    []byte
	line     int // source lines decoded so far
	err      error
	// suspectUntil is the decoded offset where the last UTF-8 segment that
	// failed utf8.Valid ends (a character split across two segments fails
	// too). Records that start before it get their cells checked one by
	// one, exactly; the others are valid, so valid input costs one fast
	// pass over the bytes instead of one call per cell.
	suspectUntil int64
}

type mark struct{ out, in int64 }

func newDecoder(src *bufio.Reader, encoding string, base int64) *decoder {
	return &decoder{src: src, encoding: encoding, base: base}
}

// Read implements io.Reader.
func (d *decoder) Read(p []byte) (int, error) {
	for len(d.pending) == 0 {
		if d.err != nil {
			return 0, d.err
		}
		d.fill()
	}
	n := copy(p, d.pending)
	d.pending = d.pending[n:]
	return n, nil
}

func (d *decoder) fill() {
	seg, err := d.src.ReadSlice('\n')
	if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
		d.err = err // io.EOF or a read error: after this segment, no more
	}
	if len(d.carry) > 0 {
		seg = append(d.carry, seg...)
		d.carry = nil
	}
	if errors.Is(err, bufio.ErrBufferFull) && d.encoding == ShiftJIS {
		// A line longer than the buffer: do not split a two-byte character;
		// carry the cut-off lead byte over to the next segment.
		cut := sjisBoundary(seg)
		d.carry = append([]byte(nil), seg[cut:]...)
		seg = seg[:cut]
	}
	if len(seg) == 0 {
		return
	}
	d.emit(seg)
}

func (d *decoder) emit(seg []byte) {
	d.in += int64(len(seg))
	var out []byte
	switch d.encoding {
	case UTF8:
		out = seg
		if !utf8.Valid(seg) {
			d.suspectUntil = d.out + int64(len(seg))
		}
	case Windows1252:
		out, _ = charmap.Windows1252.NewDecoder().Bytes(seg)
	case ShiftJIS:
		var err error
		out, err = japanese.ShiftJIS.NewDecoder().Bytes(seg)
		if err != nil || bytes.ContainsRune(out, utf8.RuneError) {
			d.err = bulkerr.New(bulkerr.Invalid, "line %d is not valid Shift-JIS text; %s", d.line+1, fixEncoding)
			return
		}
	}
	if n := bytes.Count(seg, []byte{'\n'}); n > 0 {
		d.line += n
	}
	d.out += int64(len(out))
	if seg[len(seg)-1] == '\n' && d.encoding != UTF8 {
		d.marks = append(d.marks, mark{out: d.out, in: d.in})
	}
	d.pending = out
}

// sourceOffset maps an offset in the decoded stream that falls on a line end
// (or the end of input) to the source object's offset.
func (d *decoder) sourceOffset(out int64) (int64, bool) {
	if d.encoding == UTF8 {
		return d.base + out, true
	}
	for len(d.marks) > 0 && d.marks[0].out < out {
		d.marks = d.marks[1:]
	}
	if len(d.marks) > 0 && d.marks[0].out == out {
		return d.base + d.marks[0].in, true
	}
	if out == d.out && d.err != nil {
		return d.base + d.in, true
	}
	return 0, false
}

var _ io.Reader = (*decoder)(nil)

// hasUndefined1252 reports whether b holds one of the five bytes that
// Windows-1252 leaves undefined.
func hasUndefined1252(b []byte) bool {
	for _, c := range b {
		switch c {
		case 0x81, 0x8D, 0x8F, 0x90, 0x9D:
			return true
		}
	}
	return false
}
