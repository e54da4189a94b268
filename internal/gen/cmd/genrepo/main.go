// Command genrepo writes the big desired-state repository mooring's render
// benchmark builds (see package gen).
//
//	go run ./internal/gen/cmd/genrepo -out .cache/bench/bigrepo
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/mooringhq/mooring/internal/gen"
)

func main() {
	d := gen.DefaultOptions()
	out := flag.String("out", "", "folder to write the repository into (required)")
	pools := flag.Int("pools", d.Pools, "IPAddressPools (and as many L2Advertisements), at most 100")
	ingresses := flag.Int("ingresses", d.Ingresses, "Ingresses")
	seed := flag.Uint64("seed", d.Seed, "seed of the varied parts")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "genrepo: -out is required")
		os.Exit(2)
	}
	opts := gen.Options{Pools: *pools, Ingresses: *ingresses, Seed: *seed}
	if err := gen.Write(*out, opts); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("wrote %s: %d objects, overlay %s\n", *out, opts.Objects(), gen.Overlay)
}
