// Package audiozip inspects a ZIP of WAV prompts for the audio import: it
// refuses hostile archives as a whole (paths that climb out with .. or are
// absolute, symlinks, more entries than the limit, a total or per-entry
// uncompressed size or compression ratio that betrays a zip bomb) and
// judges each entry on its own (not a WAV, corrupt WAV header, name longer
// than 80 characters, the same name twice, a ZIP inside the ZIP).
//
// It works on an io.ReaderAt (ranged reads of the S3 object), reads the
// central directory and then one entry at a time, never the whole archive
// into memory. It imports nothing from AWS.
package audiozip

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"path"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/objecttype"
)

// Slug is the object type of audio files in upload keys and the catalog.
const Slug = "audio-file"

// IsSlug reports whether an upload folder or API type names audio files
// (audio-file, audio-files, audio, prompts; any case, _ or space for -).
func IsSlug(s string) bool {
	switch strings.NewReplacer("_", "-", " ", "-").Replace(strings.ToLower(strings.TrimSpace(s))) {
	case Slug, "audio-files", "audio", "prompts", "audio-prompts":
		return true
	}
	return false
}

// Limits bound one archive.
type Limits struct {
	MaxArchiveBytes int64   // the ZIP itself (50 MB, as Webex)
	MaxEntries      int     // files and folders in the central directory
	MaxEntryBytes   int64   // uncompressed size of one entry
	MaxTotalBytes   int64   // uncompressed size of all entries
	MaxRatio        float64 // uncompressed / compressed size of one entry
}

// DefaultLimits are the audio import's limits.
func DefaultLimits() Limits {
	return Limits{MaxArchiveBytes: 50 << 20, MaxEntries: 2000, MaxEntryBytes: 25 << 20, MaxTotalBytes: 200 << 20, MaxRatio: 100}
}

// Problem codes of rejected entries.
const (
	CodeNotWAV     = "NOT_WAV"
	CodeCorruptWAV = "CORRUPT_WAV"
	CodeBadFormat  = "UNSUPPORTED_AUDIO"
	CodeNameLong   = "NAME_TOO_LONG"
	CodeDuplicate  = "DUPLICATE_NAME"
	CodeNestedZIP  = "NESTED_ZIP"
	CodeEntryError = "UNREADABLE_ENTRY"
)

// Entry is one file of the archive, in central-directory order.
type Entry struct {
	// Row numbers entries from 2, so reports line up with a CSV's rows
	// (the report's header is row 1).
	Row int `json:"row"`
	// Index is the position in the central directory.
	Index int `json:"index"`
	// Path is the entry's path in the archive.
	Path string `json:"path"`
	// Name is the prompt's name: the base name without .wav.
	Name string `json:"name"`
	// Size is the declared uncompressed size.
	Size int64 `json:"size"`
	// Problem, if set, rejects the entry before it is read.
	Problem *objecttype.Problem `json:"problem,omitempty"`
}

// Inspect reads the central directory of the archive r (size bytes) and
// returns its files (folders skipped), each either accepted for reading or
// rejected with a problem. A hostile or unreadable archive is an Invalid
// error saying why; nothing of it is used.
func Inspect(r io.ReaderAt, size int64, l Limits) ([]Entry, error) {
	if size > l.MaxArchiveBytes {
		return nil, bulkerr.New(bulkerr.Invalid, "the ZIP is %s; at most %s is allowed: split the prompts into several ZIP files", mb(size), mb(l.MaxArchiveBytes))
	}
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, bulkerr.New(bulkerr.Invalid, "the file is not a readable ZIP archive (%s); create it with your system's \"compress\" or zip tool", zipMessage(err))
	}
	if len(zr.File) > l.MaxEntries {
		return nil, bulkerr.New(bulkerr.Invalid, "the ZIP has %d entries; at most %d are allowed: split it into several ZIP files", len(zr.File), l.MaxEntries)
	}
	var total uint64
	var out []Entry
	seen := map[string]int{} // normalized name → row
	for i, f := range zr.File {
		name := f.Name
		if strings.Contains(name, "\\") {
			name = strings.ReplaceAll(name, "\\", "/")
		}
		if strings.HasPrefix(name, "/") || len(name) > 1 && name[1] == ':' || hasDotDot(name) {
			return nil, bulkerr.New(bulkerr.Invalid, "the ZIP entry %q points outside the archive (absolute path or ..); the ZIP is refused as a whole", f.Name)
		}
		mode := f.Mode()
		if mode&fs.ModeSymlink != 0 {
			return nil, bulkerr.New(bulkerr.Invalid, "the ZIP entry %q is a symbolic link; the ZIP is refused as a whole: add the WAV files themselves", f.Name)
		}
		if mode.IsDir() || strings.HasSuffix(name, "/") {
			continue
		}
		if f.UncompressedSize64 > uint64(l.MaxEntryBytes) {
			return nil, bulkerr.New(bulkerr.Invalid, "the ZIP entry %q unpacks to %s; at most %s per file is allowed", f.Name, mb(int64(min(f.UncompressedSize64, 1<<62))), mb(l.MaxEntryBytes))
		}
		total += f.UncompressedSize64
		if total > uint64(l.MaxTotalBytes) {
			return nil, bulkerr.New(bulkerr.Invalid, "the ZIP unpacks to more than %s; split it into several ZIP files", mb(l.MaxTotalBytes))
		}
		if f.CompressedSize64 > 0 && float64(f.UncompressedSize64)/float64(f.CompressedSize64) > l.MaxRatio {
			return nil, bulkerr.New(bulkerr.Invalid, "the ZIP entry %q is compressed %.0f:1, more than WAV audio ever is (a zip bomb?); the ZIP is refused", f.Name, float64(f.UncompressedSize64)/float64(f.CompressedSize64))
		}
		base := path.Base(name)
		e := Entry{Row: len(out) + 2, Index: i, Path: name, Size: int64(f.UncompressedSize64)}
		ext := strings.ToLower(path.Ext(base))
		e.Name = strings.TrimSuffix(base, path.Ext(base))
		switch {
		case ext == ".zip":
			e.Problem = problem(CodeNestedZIP, "a ZIP inside the ZIP is not searched", "add its WAV files to the outer ZIP")
		case ext != ".wav":
			e.Problem = problem(CodeNotWAV, fmt.Sprintf("%q is not a .wav file", base), "only .wav prompts are imported; remove other files")
		case !utf8.ValidString(e.Name) || utf8.RuneCountInString(e.Name) > objecttype.MaxNameLen:
			e.Problem = problem(CodeNameLong, fmt.Sprintf("the name has %d characters; at most %d are allowed", utf8.RuneCountInString(e.Name), objecttype.MaxNameLen), "rename the file")
		case strings.TrimSpace(e.Name) == "":
			e.Problem = problem(CodeNotWAV, "the file has no name before .wav", "rename the file")
		default:
			k := objecttype.NormalizeName(e.Name)
			if first, dup := seen[k]; dup {
				e.Problem = problem(CodeDuplicate, fmt.Sprintf("%q already appears in row %d (names are matched ignoring case and folders)", e.Name, first), "keep one file of each name")
			} else {
				seen[k] = e.Row
			}
		}
		out = append(out, e)
	}
	if len(out) == 0 {
		return nil, bulkerr.New(bulkerr.Invalid, "the ZIP holds no files; add .wav prompts to it")
	}
	return out, nil
}

func hasDotDot(name string) bool {
	for _, seg := range strings.Split(name, "/") {
		if seg == ".." {
			return true
		}
	}
	return false
}

func problem(code, msg, hint string) *objecttype.Problem {
	return &objecttype.Problem{Code: code, Column: "File", Message: msg, Hint: hint}
}

func zipMessage(err error) string {
	switch {
	case errors.Is(err, zip.ErrFormat):
		return "no ZIP directory found"
	case errors.Is(err, zip.ErrAlgorithm):
		return "it uses a compression method other than store or deflate"
	case errors.Is(err, zip.ErrInsecurePath):
		return "it has an insecure path"
	}
	return "it is damaged"
}

func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/(1<<20)) }

// ReadEntry reads entry e of the archive into buf (reset first), reading
// at most e.Size bytes and failing when the data is longer, shorter or its
// CRC does not match: a lying header cannot make it read more than the
// limits Inspect checked. It returns a problem for the entry, or an error
// when the source failed.
func ReadEntry(r io.ReaderAt, size int64, e Entry, buf *bytes.Buffer) (*objecttype.Problem, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, bulkerr.New(bulkerr.Invalid, "the ZIP cannot be read again: %s", zipMessage(err))
	}
	return readFile(zr.File, e, buf)
}

func readFile(files []*zip.File, e Entry, buf *bytes.Buffer) (*objecttype.Problem, error) {
	if e.Index < 0 || e.Index >= len(files) {
		return nil, bulkerr.New(bulkerr.Internal, "entry %d of %d", e.Index, len(files))
	}
	f := files[e.Index]
	buf.Reset()
	rc, err := f.Open()
	if err != nil {
		return problem(CodeEntryError, "the entry cannot be opened: "+zipMessage(err), "re-create the ZIP"), nil
	}
	defer rc.Close()
	n, err := io.Copy(buf, io.LimitReader(rc, e.Size+1))
	if err != nil {
		return problem(CodeEntryError, "the entry is damaged (checksum or data error)", "re-create the ZIP"), nil
	}
	if n != e.Size {
		return problem(CodeEntryError, fmt.Sprintf("the entry holds %d bytes but its header says %d", n, e.Size), "re-create the ZIP"), nil
	}
	if f.CRC32 != 0 && crc32.ChecksumIEEE(buf.Bytes()) != f.CRC32 {
		return problem(CodeEntryError, "the entry's checksum does not match", "re-create the ZIP"), nil
	}
	return nil, nil
}

// WAV is what the header of a WAV file says.
type WAV struct {
	Format        string // PCM, A-law or µ-law
	Channels      int
	SampleRate    int
	BitsPerSample int
	DataBytes     int64
	Duration      time.Duration
}

// Accepted sample rates and formats: what contact-center media servers play.
var (
	sampleRates = map[int]bool{8000: true, 11025: true, 16000: true, 22050: true, 32000: true, 44100: true, 48000: true}
	formats     = map[uint16]string{1: "PCM", 6: "A-law", 7: "µ-law"}
)

// CheckWAV parses a WAV file's RIFF header and reports its format, or a
// problem saying what is wrong with it.
func CheckWAV(b []byte) (WAV, *objecttype.Problem) {
	corrupt := func(why string) (WAV, *objecttype.Problem) {
		return WAV{}, problem(CodeCorruptWAV, "the WAV header is damaged: "+why, "export the prompt again as a WAV file")
	}
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return WAV{}, problem(CodeNotWAV, "the file is not a RIFF/WAVE file", "export the prompt as a WAV file")
	}
	var w WAV
	var fmtSeen bool
	var blockAlign uint16
	for off := 12; off+8 <= len(b); {
		id := string(b[off : off+4])
		n := int64(binary.LittleEndian.Uint32(b[off+4 : off+8]))
		body := int64(off + 8)
		if body+n > int64(len(b)) {
			if id == "data" && fmtSeen {
				return corrupt(fmt.Sprintf("the data chunk claims %d bytes but only %d follow", n, int64(len(b))-body))
			}
			return corrupt(fmt.Sprintf("chunk %q runs past the end of the file", id))
		}
		switch id {
		case "fmt ":
			if n < 16 {
				return corrupt("the fmt chunk is too short")
			}
			c := b[body : body+16]
			code := binary.LittleEndian.Uint16(c[0:2])
			if code == 0xFFFE && n >= 40 { // WAVE_FORMAT_EXTENSIBLE: the sub-format's first two bytes
				code = binary.LittleEndian.Uint16(b[body+24 : body+26])
			}
			name, ok := formats[code]
			if !ok {
				return WAV{}, problem(CodeBadFormat, fmt.Sprintf("audio format %d is not PCM, A-law or µ-law", code), "export the prompt as PCM WAV")
			}
			w.Format = name
			w.Channels = int(binary.LittleEndian.Uint16(c[2:4]))
			w.SampleRate = int(binary.LittleEndian.Uint32(c[4:8]))
			byteRate := binary.LittleEndian.Uint32(c[8:12])
			blockAlign = binary.LittleEndian.Uint16(c[12:14])
			w.BitsPerSample = int(binary.LittleEndian.Uint16(c[14:16]))
			switch {
			case w.Channels < 1 || w.Channels > 2:
				return WAV{}, problem(CodeBadFormat, fmt.Sprintf("%d channels; mono or stereo only", w.Channels), "export the prompt in mono")
			case !sampleRates[w.SampleRate]:
				return WAV{}, problem(CodeBadFormat, fmt.Sprintf("sample rate %d Hz is not one of 8000, 11025, 16000, 22050, 32000, 44100, 48000", w.SampleRate), "export the prompt at 8000 or 16000 Hz")
			case name != "PCM" && w.BitsPerSample != 8, name == "PCM" && w.BitsPerSample != 8 && w.BitsPerSample != 16 && w.BitsPerSample != 24:
				return WAV{}, problem(CodeBadFormat, fmt.Sprintf("%d bits per sample is not supported for %s", w.BitsPerSample, name), "export the prompt as 16-bit PCM")
			case int(blockAlign) != w.Channels*w.BitsPerSample/8 || byteRate != uint32(w.SampleRate)*uint32(blockAlign):
				return corrupt("the byte rate and block size do not match the format")
			}
			fmtSeen = true
		case "data":
			if !fmtSeen {
				return corrupt("the data chunk comes before the fmt chunk")
			}
			w.DataBytes = n
			if n%int64(blockAlign) != 0 {
				return corrupt("the audio data ends in the middle of a sample")
			}
			w.Duration = time.Duration(n/int64(blockAlign)) * time.Second / time.Duration(w.SampleRate)
			if w.Duration == 0 {
				return corrupt("the file holds no audio")
			}
			return w, nil
		}
		off = int(body + n + n%2) // chunks are padded to even sizes
	}
	if !fmtSeen {
		return corrupt("no fmt chunk")
	}
	return corrupt("no data chunk")
}
