package retry

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/objecttype"
)

func opener(body string) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(body)), nil }
}

func sourceOf(body string) func(int64) (io.ReadCloser, error) {
	return func(start int64) (io.ReadCloser, error) {
		if body == "" {
			return nil, bulkerr.New(bulkerr.NotFound, "the version is gone")
		}
		return io.NopCloser(strings.NewReader(body[start:])), nil
	}
}

const (
	src     = "Name,Description,Type\r\nA,=1+2,IDLE_CODE\r\nB,ok,IDLE_CODE\r\n,,\r\nC,\"two\r\nlines\",IDLE_CODE\r\nD,x,IDLE_CODE\r\n"
	report  = "\xEF\xBB\xBFName,Description,Type,Row,Error Code,Error Message\r\nA,'=1+2,IDLE_CODE,2,UNKNOWN_REFERENCE,m\r\nC,\"two\r\nlines\",IDLE_CODE,5,NOT_PROCESSED,n\r\nD,x,IDLE_CODE,6,DUPLICATE_KEY|REQUIRED,d\r\n"
	results = "\xEF\xBB\xBFRow,Key,Object ID,Action\r\n3,B,o1,created\r\n"
)

// TestBuild: the rows the error report lists (a blank row and a quoted
// line break in the source keep the row numbers right), from the source
// (its cells, not the report's neutralized ones), duplicates left out; a
// listed row the results report lists as applied is left out too; when the
// source is gone the report's cells are used; bad reports are errors.
func TestBuild(t *testing.T) {
	wt, err := objecttype.Lookup("work-type")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, src, report, results string
		want                       string
		stats                      Stats
		err                        string
	}{
		{name: "from the source", src: src, report: report, results: results,
			want: "Name,Description,Type\nA,=1+2,IDLE_CODE\nC,\"two\r\nlines\",IDLE_CODE\n", stats: Stats{Rows: 2, Duplicates: 1, SourceRows: []int{2, 5}}},
		{name: "an applied row is never retried", src: src, report: report, results: results + "5,C,o2,created\r\n",
			want: "Name,Description,Type\nA,=1+2,IDLE_CODE\n", stats: Stats{Rows: 1, Duplicates: 1, Applied: 1, SourceRows: []int{2}}},
		{name: "source gone", src: "", report: report, results: results,
			want: "Name,Description,Type\nA,'=1+2,IDLE_CODE\nC,\"two\r\nlines\",IDLE_CODE\n", stats: Stats{Rows: 2, Duplicates: 1, FromReport: true}},
		{name: "only duplicates", src: src, report: "Name,Description,Type,Row,Error Code,Error Message\nD,x,IDLE_CODE,6,DUPLICATE_KEY,d\n",
			want: "", stats: Stats{Duplicates: 1}},
		{name: "a row the source lacks", src: src, report: "Name,Description,Type,Row,Error Code,Error Message\nx,x,x,4,REQUIRED,m\n",
			err: "lists row 4, which the source file does not have"},
		{name: "past the end", src: src, report: "Name,Description,Type,Row,Error Code,Error Message\nx,x,x,60,REQUIRED,m\n",
			err: "lists row 60, past the end"},
		{name: "unlisted not-processed rows", src: src, report: "Name,Description,Type,Row,Error Code,Error Message\n,,,4,NOT_PROCESSED,\"not processed: x; 3 rows from row 4 on could not be read back from the file\"\n",
			err: "does not list every row"},
		{name: "not an error report", src: src, report: "Name,Type\nA,B\n", err: "no Row column"},
		{name: "a bad row number", src: src, report: "Name,Description,Type,Row,Error Code,Error Message\nA,b,c,two,X,m\n", err: `names row "two"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			s := Sources{Source: sourceOf(c.src), Errors: opener(c.report), Results: opener(c.results)}
			st, err := Build(wt, s, &out)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := strings.ReplaceAll(strings.TrimPrefix(out.String(), "\xEF\xBB\xBF"), "\r\n", "\n")
			want := strings.ReplaceAll(c.want, "\r\n", "\n")
			if got != want {
				t.Errorf("file = %q, want %q", got, want)
			}
			if c.want != "" && !strings.HasPrefix(out.String(), "\xEF\xBB\xBF") {
				t.Errorf("no byte order mark")
			}
			if st.Rows != c.stats.Rows || st.Duplicates != c.stats.Duplicates || st.Applied != c.stats.Applied || st.FromReport != c.stats.FromReport ||
				len(st.SourceRows) != len(c.stats.SourceRows) {
				t.Errorf("stats = %+v, want %+v", st, c.stats)
			}
		})
	}
}

func TestRetryFileName(t *testing.T) {
	for in, want := range map[string]string{"agents.csv": "agents-retry.csv", "agents-retry.csv": "agents-retry.csv", "a.b.CSV": "a.b-retry.csv"} {
		if got := RetryFileName(in); got != want {
			t.Errorf("RetryFileName(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzBuild: any error report and source give a file or an error, never
// a panic.
func FuzzBuild(f *testing.F) {
	f.Add(src, report, results)
	f.Add("Name\n", "Row\n1\n", "")
	wt, _ := objecttype.Lookup("work-type")
	f.Fuzz(func(t *testing.T, s, r, res string) {
		_, _ = Build(wt, Sources{Source: sourceOf(s), Errors: opener(r), Results: opener(res)}, io.Discard)
	})
}
