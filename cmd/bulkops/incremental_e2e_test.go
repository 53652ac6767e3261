package main

import (
	"archive/zip"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestIntervalExportOfTwoImports runs two imports of one tenant's work
// types through the dev server's workflow (sharded writes, each object's
// own write time) and exports the windows around the moment between them:
// from that moment, exactly the second import's 20 creates and 30 updates
// (its 150 unchanged rows are not written, so not exported), in name order,
// the same bytes when exported again; up to that moment, the first import's
// objects the second did not change. There is no index on the write time:
// the export reads the type's 16 shards with a filter (docs/capacity.md).
func TestIntervalExportOfTwoImports(t *testing.T) {
	r := newE2E(t, "incr-")
	tok := r.token(t, "ops@"+r.tenant+".example")
	dir := t.TempDir()
	importRows := func(name string, rows [][3]string) {
		t.Helper()
		var b strings.Builder
		b.WriteString("Name,Description,Type\n")
		for _, row := range rows {
			fmt.Fprintf(&b, "%s,%s,%s\n", row[0], row[1], row[2])
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, info, err := r.cli("import", path, "--type", "Work Type", "--wait", "--token", tok); err != nil {
			t.Fatalf("import %s: %v\n%s\n%s", name, err, out, info)
		}
	}
	code := func(i int) string { return fmt.Sprintf("Code %03d", i) }
	var first, second [][3]string
	for i := range 200 {
		first = append(first, [3]string{code(i), "first", "IDLE_CODE"})
	}
	wantNew := map[string]string{} // name → description, from the moment between the imports
	for i := range 200 {
		desc := "first"
		if i%20 < 3 { // 30 of the 200 change
			desc = "second"
			wantNew[code(i)] = desc
		}
		second = append(second, [3]string{code(i), desc, "IDLE_CODE"})
	}
	for i := 200; i < 220; i++ {
		second = append(second, [3]string{code(i), "added", "WRAP_UP_CODE"})
		wantNew[code(i)] = "added"
	}
	importRows("first.csv", first)
	time.Sleep(20 * time.Millisecond)
	between := time.Now().UTC()
	time.Sleep(20 * time.Millisecond)
	importRows("second.csv", second)

	export := func(args ...string) ([][]string, []byte) {
		t.Helper()
		out := filepath.Join(dir, fmt.Sprintf("export-%d.zip", time.Now().UnixNano()))
		args = append([]string{"export", "work-type", "--wait", "--out", out, "--token", tok}, args...)
		if o, info, err := r.cli(args...); err != nil || !strings.Contains(o, "Completed") {
			t.Fatalf("export %v: %v\n%s\n%s", args, err, o, info)
		}
		zr, err := zip.OpenReader(out)
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		if len(zr.File) != 1 {
			t.Fatalf("export parts: %v", zr.File)
		}
		rc, err := zr.File[0].Open()
		if err != nil {
			t.Fatal(err)
		}
		raw, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(string(raw), "\xEF\xBB\xBF"))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		return recs[1:], raw
	}
	for _, c := range []struct {
		name   string
		args   []string
		expect map[string]string
	}{
		{"from between the imports", []string{"--range", "interval", "--from", between.Format(time.RFC3339Nano)}, wantNew},
		{"up to between the imports", []string{"--range", "interval", "--from", "2000-01-01T00:00:00Z", "--to", between.Format(time.RFC3339Nano)}, func() map[string]string {
			m := map[string]string{}
			for i := range 200 {
				if _, changed := wantNew[code(i)]; !changed {
					m[code(i)] = "first"
				}
			}
			return m
		}()},
	} {
		t.Run(c.name, func(t *testing.T) {
			rows, raw := export(c.args...)
			var names []string
			for _, row := range rows {
				names = append(names, row[0])
				if want, ok := c.expect[row[0]]; !ok || row[1] != want {
					t.Errorf("row %v: want description %q (in the window: %v)", row, want, ok)
				}
			}
			if len(rows) != len(c.expect) || !slices.IsSorted(names) {
				t.Fatalf("%d rows, want %d, in name order: %v", len(rows), len(c.expect), names)
			}
			if _, again := export(c.args...); string(again) != string(raw) {
				t.Fatal("the same window exported twice gives different files")
			}
		})
	}
}
