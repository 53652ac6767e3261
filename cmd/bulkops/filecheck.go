package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/ccbulk/bulkops/shared/audiozip"
)

// sniffBytes is how much of a file its check reads.
const sniffBytes = 8 << 10

// checkFile opens an import file and checks it before anything is sent:
// it is a regular file, not empty, and by its content a CSV (text, not a
// spreadsheet, PDF or other binary) or, for audio prompts, a ZIP. It
// returns the file, rewound, and its size.
func checkFile(path, typ string) (*os.File, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, fmt.Errorf("cannot read %s: %w", path, unwrapPath(err))
	}
	fail := func(format string, args ...any) (*os.File, int64, error) {
		f.Close()
		return nil, 0, fmt.Errorf(format, args...)
	}
	info, err := f.Stat()
	if err != nil {
		return fail("cannot read %s: %v", path, err)
	}
	if !info.Mode().IsRegular() {
		return fail("%s is not a file", path)
	}
	if info.Size() == 0 {
		return fail("%s is empty; there is nothing to import", path)
	}
	head := make([]byte, min(info.Size(), sniffBytes))
	if _, err := io.ReadFull(f, head); err != nil {
		return fail("cannot read %s: %v", path, err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fail("cannot read %s: %v", path, err)
	}
	if why := contentProblem(head, audiozip.IsSlug(typ)); why != "" {
		return fail("%s %s (nothing was uploaded)", path, why)
	}
	return f, info.Size(), nil
}

// contentProblem says why a file's first bytes are not what an import of
// its type takes ("" when they are).
func contentProblem(head []byte, wantZIP bool) string {
	isZIP := bytes.HasPrefix(head, []byte("PK\x03\x04")) || bytes.HasPrefix(head, []byte("PK\x05\x06"))
	if wantZIP {
		if isZIP {
			return ""
		}
		return "is not a ZIP archive; audio prompts are imported as a ZIP of .wav files"
	}
	switch {
	case isZIP && (bytes.Contains(head, []byte("[Content_Types].xml")) || bytes.Contains(head, []byte("xl/"))):
		return "is an Excel workbook (.xlsx), not a CSV; in Excel use File > Save As > CSV UTF-8"
	case isZIP:
		return "is a ZIP archive, not a CSV; unpack it and import each CSV (only audio-file imports take a ZIP)"
	case bytes.HasPrefix(head, []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}):
		return "is an old Excel workbook (.xls), not a CSV; in Excel use File > Save As > CSV UTF-8"
	case bytes.HasPrefix(head, []byte("%PDF")):
		return "is a PDF, not a CSV"
	case bytes.HasPrefix(head, []byte{0xFF, 0xFE}) || bytes.HasPrefix(head, []byte{0xFE, 0xFF}):
		return "is saved as UTF-16 (\"Unicode text\"); save it as CSV UTF-8 instead"
	case bytes.HasPrefix(head, []byte{0x1F, 0x8B}):
		return "is gzip-compressed, not a CSV; unpack it first"
	case bytes.IndexByte(head, 0) >= 0:
		return "is a binary file, not a CSV (it holds NUL bytes)"
	}
	return ""
}

func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// writeJSONValue writes v as indented JSON.
func writeJSONValue(w io.Writer, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return writeJSON(w, raw)
}

// pageItems collects the items of pages (the API's documents, as sent)
// under name into one document.
type pageItems struct {
	name  string
	items []json.RawMessage
}

func (p *pageItems) add(raw []byte) {
	var page map[string]json.RawMessage
	var items []json.RawMessage
	if json.Unmarshal(raw, &page) == nil && json.Unmarshal(page[p.name], &items) == nil {
		p.items = append(p.items, items...)
	}
}

func (p *pageItems) write(w io.Writer) error {
	if p.items == nil {
		p.items = []json.RawMessage{}
	}
	return writeJSONValue(w, map[string]any{p.name: p.items})
}
