// Command capacity-model prints the capacity and cost model
// (shared/capacity) for the figures measured here, or with -w rewrites
// the generated part of docs/capacity.md (between its model markers).
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/ccbulk/bulkops/shared/capacity"
)

func main() {
	write := flag.String("w", "", "rewrite the generated part of this file (docs/capacity.md) instead of printing")
	flag.Parse()
	report := capacity.Report(capacity.Figures, capacity.IncrementalFigures, capacity.DefaultPath, capacity.OtherPaths)
	if *write == "" {
		fmt.Print(report)
		return
	}
	raw, err := os.ReadFile(*write)
	if err != nil {
		fmt.Fprintln(os.Stderr, "capacity-model:", err)
		os.Exit(1)
	}
	out, err := capacity.Splice(string(raw), report)
	if err == nil {
		err = os.WriteFile(*write, []byte(out), 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "capacity-model:", err)
		os.Exit(1)
	}
}
