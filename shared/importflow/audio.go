package importflow

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/ccbulk/bulkops/shared/audiozip"
	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/catalog"
	"github.com/ccbulk/bulkops/shared/csvimport"
	"github.com/ccbulk/bulkops/shared/csvread"
	"github.com/ccbulk/bulkops/shared/objecttype"
)

// Audio imports take a ZIP of WAV prompts (object type audiozip.Slug)
// through the same steps as CSV files: Prepare inspects the archive's
// central directory and plans chunks of entries; ProcessChunk reads its
// entries one at a time with ranged reads, checks each WAV, stores it under
// audio/<tenant>/<name>.wav (a file of an existing name replaces it; the
// bucket's versioning keeps the old one) and upserts its Audio File object;
// the reports have one row per entry: File, Row, Error Code, Error Message.

// audioHeader is the report header of audio imports.
var audioHeader = []string{"File"}

// audioChunkEntries is how many ZIP entries one chunk handles.
const audioChunkEntries = 25

// AudioKey is where a tenant's prompt of the given name is stored.
func AudioKey(tenant, name string) string {
	return "audio/" + tenant + "/" + objecttype.NormalizeName(name) + ".wav"
}

// prepareAudio plans an audio import.
func (f *Flow) prepareAudio(ctx context.Context, j JobRef) (storedPlan, error) {
	if !strings.EqualFold(strings.TrimSpace(j.FileName[max(0, len(j.FileName)-4):]), ".zip") {
		return storedPlan{}, bulkerr.New(bulkerr.Invalid, "audio files are imported as a .zip of .wav files; %q is not a .zip", j.FileName)
	}
	ra, size, err := f.readerAt(ctx, j)
	if err != nil {
		return storedPlan{}, err
	}
	entries, err := audiozip.Inspect(ra, size, audiozip.DefaultLimits())
	if ra.err != nil {
		return storedPlan{}, bulkerr.Wrap(bulkerr.Transient, ra.err, "reading %s", j.FileName)
	}
	if err != nil {
		return storedPlan{}, err
	}
	sp := storedPlan{ObjectType: audiozip.Slug, Header: audioHeader, Rows: len(entries), Entries: entries}
	for i := 0; i < len(entries); i += audioChunkEntries {
		n := min(audioChunkEntries, len(entries)-i)
		sp.Chunks = append(sp.Chunks, csvread.Chunk{Index: len(sp.Chunks), FirstRow: entries[i].Row, Rows: n})
	}
	return sp, nil
}

// decideAudio checks one chunk's entries, stores the WAVs that pass and
// returns a decision per entry, as the CSV path does per row.
func (f *Flow) decideAudio(ctx context.Context, j JobRef, c ChunkRef, sp storedPlan) ([]csvimport.Decision, error) {
	var entries []audiozip.Entry
	for _, e := range sp.Entries {
		if e.Row >= c.FirstRow && e.Row < c.FirstRow+c.Rows {
			entries = append(entries, e)
		}
	}
	if len(entries) != c.Rows {
		return nil, bulkerr.New(bulkerr.Internal, "chunk %d: planned %d entries, found %d", c.Index, c.Rows, len(entries))
	}
	keys := make([]string, 0, len(entries))
	for _, e := range entries {
		keys = append(keys, objecttype.JoinKey(e.Name))
	}
	existing, err := f.Objects(j.Tenant).GetObjects(ctx, audiozip.Slug, keys)
	if err != nil {
		return nil, err
	}
	ra, size, err := f.readerAt(ctx, j)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	out := make([]csvimport.Decision, len(entries))
	for i, e := range entries {
		d := csvimport.Decision{Row: e.Row, Cells: []string{e.Path}}
		p := e.Problem
		var w audiozip.WAV
		if p == nil {
			p, err = audiozip.ReadEntry(ra, size, e, &buf)
			if ra.err != nil {
				return nil, bulkerr.Wrap(bulkerr.Transient, ra.err, "reading %s", j.FileName)
			}
			if err != nil {
				return nil, err
			}
		}
		if p == nil {
			w, p = audiozip.CheckWAV(buf.Bytes())
		}
		if p != nil {
			d.Action, d.Problems = csvimport.ActionRejected, []csvimport.Problem{*p}
			out[i] = d
			continue
		}
		sum := sha256.Sum256(buf.Bytes())
		key := objecttype.JoinKey(e.Name)
		fields := map[string]string{
			"name": e.Name, "format": w.Format, "channels": strconv.Itoa(w.Channels), "sampleRate": strconv.Itoa(w.SampleRate),
			"bitsPerSample": strconv.Itoa(w.BitsPerSample), "durationMs": strconv.FormatInt(w.Duration.Milliseconds(), 10),
			"bytes": strconv.Itoa(buf.Len()), "sha256": hex.EncodeToString(sum[:]), "storageKey": AudioKey(j.Tenant, e.Name),
			"sourcePath": e.Path,
		}
		prev, exists := existing[key]
		d.Object = catalog.Object{Type: audiozip.Slug, Key: key, Name: e.Name, Fields: fields}
		d.Previous = prev
		switch {
		case exists && prev.Fields["sha256"] == fields["sha256"] && prev.Name == e.Name:
			d.Action = csvimport.ActionUnchanged
			d.Object.Fields = prev.Fields
		case exists:
			d.Action = csvimport.ActionUpdated
		default:
			d.Action = csvimport.ActionCreated
		}
		if d.Action != csvimport.ActionUnchanged && !j.DryRun {
			// Same name, same key: the new file replaces the old one and
			// the bucket's versioning keeps the old one recoverable.
			if err := f.Files.Put(ctx, fields["storageKey"], "audio/wav", buf.Bytes(), map[string]string{"job-id": j.JobID}); err != nil {
				return nil, err
			}
		}
		out[i] = d
	}
	return out, nil
}

// readerAt reads the job's source object with ranged GETs, in 256 KiB
// blocks with a small cache, so the ZIP's directory and each entry are read
// without downloading the whole archive.
func (f *Flow) readerAt(ctx context.Context, j JobRef) (*rangeReader, int64, error) {
	info, err := f.Files.HeadVersion(ctx, j.Key, j.VersionID)
	if err != nil {
		return nil, 0, err
	}
	return &rangeReader{ctx: ctx, f: f.Files, key: j.Key, version: j.VersionID, size: info.Size, blocks: map[int64][]byte{}}, info.Size, nil
}

const rangeBlock = 256 << 10

type rangeReader struct {
	ctx          context.Context
	f            fileStore
	key, version string
	size         int64
	mu           sync.Mutex
	blocks       map[int64][]byte // block index → bytes; at most 16 kept
	err          error            // the first storage error
}

func (r *rangeReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("negative offset")
	}
	n := 0
	for n < len(p) {
		pos := off + int64(n)
		if pos >= r.size {
			return n, io.EOF
		}
		b, err := r.block(pos / rangeBlock)
		if err != nil {
			return n, err
		}
		n += copy(p[n:], b[pos%rangeBlock:])
	}
	return n, nil
}

func (r *rangeReader) block(i int64) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if b, ok := r.blocks[i]; ok {
		return b, nil
	}
	start := i * rangeBlock
	end := min(start+rangeBlock, r.size)
	body, err := r.f.OpenRange(r.ctx, r.key, r.version, start, end)
	if err == nil {
		var b []byte
		b, err = io.ReadAll(body)
		body.Close()
		if err == nil && int64(len(b)) != end-start {
			err = fmt.Errorf("ranged read of %s: got %d bytes, want %d", r.key, len(b), end-start)
		}
		if err == nil {
			if len(r.blocks) >= 16 {
				clear(r.blocks)
			}
			r.blocks[i] = b
			return b, nil
		}
	}
	if r.err == nil {
		r.err = err
	}
	return nil, err
}
