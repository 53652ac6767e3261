// Command typedoc writes docs/object-types.md from the object type registry,
// so the reference users read is the definition the engine runs:
//
//	go run ./cmd/typedoc > docs/object-types.md
//
// A test fails when the committed file is out of date.
package main

import (
	"bufio"
	"fmt"
	"os"
)

func main() {
	w := bufio.NewWriter(os.Stdout)
	render(w)
	if err := w.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, "typedoc:", err)
		os.Exit(1)
	}
}
