package main

import (
	"os"
	"runtime/pprof"
)

// startProf writes a CPU profile of what follows to $LOGBENCH_PROF with
// suffix, when set, until the function it returns is called.
func startProf(suffix string) func() {
	p := os.Getenv("LOGBENCH_PROF")
	if p == "" {
		return func() {}
	}
	p += suffix
	f, err := os.Create(p)
	if err != nil {
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return func() {}
	}
	return func() { pprof.StopCPUProfile(); f.Close() }
}
