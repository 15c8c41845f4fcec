// Command genzone writes a feed-like RPZ zone for benchmarks: mostly
// "CNAME ." blocks of random-looking names, with some wildcards, passthrus
// under them and walled gardens, deterministically from a seed.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
)

func main() {
	n := flag.Int("n", 1000000, "number of records")
	seed := flag.Uint64("seed", 1, "random seed")
	origin := flag.String("origin", "rpz.bench.", "zone origin")
	flag.Parse()
	rng := rand.New(rand.NewPCG(*seed, 42))
	w := bufio.NewWriterSize(os.Stdout, 1<<20)
	defer w.Flush()
	// The name server is outside the zone so that BIND needs no address for it.
	fmt.Fprintf(w, "$TTL 300\n$ORIGIN %s\n@ SOA localhost. hostmaster.invalid. 1 3600 600 86400 60\n@ NS localhost.\n", *origin)
	tlds := []string{"com", "net", "org", "info", "xyz", "ru", "cn", "top", "io", "de"}
	const letters = "abcdefghijklmnopqrstuvwxyz0123456789"
	label := func(min, max int) string {
		b := make([]byte, min+rng.IntN(max-min+1))
		for i := range b {
			b[i] = letters[rng.IntN(len(letters))]
		}
		return string(b)
	}
	for i := 0; i < *n; i++ {
		domain := label(6, 14) + "." + tlds[rng.IntN(len(tlds))]
		switch r := rng.IntN(1000); {
		case r < 30: // a wildcard block with the domain itself
			fmt.Fprintf(w, "%s CNAME .\n*.%s CNAME .\n", domain, domain)
			i++
		case r < 35: // a passthru under a wildcard block
			fmt.Fprintf(w, "*.%s CNAME .\nwww.%s CNAME rpz-passthru.\n", domain, domain)
			i++
		case r < 45:
			fmt.Fprintf(w, "%s CNAME walled.example.net.\n", domain)
		case r < 55:
			fmt.Fprintf(w, "%s.%s CNAME .\n", label(3, 8), domain)
		case r < 60:
			fmt.Fprintf(w, "%s CNAME *.\n", domain)
		default:
			fmt.Fprintf(w, "%s CNAME .\n", domain)
		}
	}
}
