package samtemplate_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// layoutRow matches a row of the README's Layout table that names a Go
// package directory: | `shared/x` | ... |.
var layoutRow = regexp.MustCompile("(?m)^\\| `((?:cmd|functions|shared)/[^`]+)` \\|")

// TestReadmeLayoutNamesEveryPackage checks that the README's "Layout"
// section has a row for every Go package of the module (every directory
// holding a non-test .go file), and no row for a package that is gone.
func TestReadmeLayoutNamesEveryPackage(t *testing.T) {
	root := filepath.Join("..", "..", "..")
	raw, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	start := strings.Index(readme, "\n## Layout\n")
	if start < 0 {
		t.Fatal(`README.md has no "## Layout" section`)
	}
	section := readme[start+1:]
	if end := strings.Index(section[len("## Layout\n"):], "\n## "); end >= 0 {
		section = section[:len("## Layout\n")+end]
	}
	listed := map[string]bool{}
	for _, m := range layoutRow.FindAllStringSubmatch(section, -1) {
		listed[m[1]] = true
	}

	packages := map[string]bool{}
	for _, top := range []string{"cmd", "functions", "shared"} {
		err := filepath.WalkDir(filepath.Join(root, top), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			name := d.Name()
			if d.IsDir() {
				if name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
					return filepath.SkipDir
				}
				return nil
			}
			if strings.HasSuffix(name, ".go") && !strings.HasSuffix(name, "_test.go") {
				rel, err := filepath.Rel(root, filepath.Dir(path))
				if err != nil {
					return err
				}
				packages[filepath.ToSlash(rel)] = true
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(packages) == 0 {
		t.Fatal("found no Go packages")
	}
	for p := range packages {
		if !listed[p] {
			t.Errorf("README.md Layout has no row for package %s", p)
		}
	}
	for p := range listed {
		if !packages[p] {
			t.Errorf("README.md Layout names %s, which is not a Go package", p)
		}
	}
}
