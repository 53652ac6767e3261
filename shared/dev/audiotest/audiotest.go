// Package audiotest builds WAV files and ZIP archives for tests and samples.
package audiotest

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"io/fs"
)

// WAV returns a WAV file: format code (1 PCM, 6 A-law, 7 µ-law), channels,
// sample rate, bits per sample and frames; seed varies the samples.
func WAV(code uint16, channels, rate, bits, frames int, seed byte) []byte {
	align := channels * bits / 8
	data := make([]byte, frames*align)
	for i := range data {
		data[i] = byte(i*7) + seed
	}
	var b bytes.Buffer
	w := func(v any) { _ = binary.Write(&b, binary.LittleEndian, v) }
	b.WriteString("RIFF")
	w(uint32(4 + 8 + 16 + 8 + len(data)))
	b.WriteString("WAVEfmt ")
	w(uint32(16))
	w(code)
	w(uint16(channels))
	w(uint32(rate))
	w(uint32(rate * align))
	w(uint16(align))
	w(uint16(bits))
	b.WriteString("data")
	w(uint32(len(data)))
	b.Write(data)
	return b.Bytes()
}

// Entry is one file of a generated ZIP.
type Entry struct {
	Name    string
	Body    []byte
	Mode    fs.FileMode // e.g. fs.ModeSymlink; 0 for a regular file
	Deflate bool
}

// ZIP returns an archive of the entries.
func ZIP(entries ...Entry) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.Name, Method: zip.Store}
		if e.Deflate {
			h.Method = zip.Deflate
		}
		if e.Mode != 0 {
			h.SetMode(e.Mode)
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(e.Body); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
