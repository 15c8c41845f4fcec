package main

import (
	"fmt"
	"math"
	"time"
)

// A rangeCheck is one flag value that must lie in a range; checkRanges
// turns the first that does not into a usage error naming the flag.
type rangeCheck struct {
	flag string
	ok   bool
	want string
}

func intIn(flag string, v, lo, hi int) rangeCheck {
	return rangeCheck{flag, v >= lo && v <= hi, fmt.Sprintf("want %d to %d, got %d", lo, hi, v)}
}

func intAtLeast(flag string, v, lo int) rangeCheck {
	return rangeCheck{flag, v >= lo, fmt.Sprintf("want at least %d, got %d", lo, v)}
}

// floatIn checks lo <= v <= hi (NaN is never in range).
func floatIn(flag string, v, lo, hi float64, want string) rangeCheck {
	return rangeCheck{flag, v >= lo && v <= hi, fmt.Sprintf("%s, got %v", want, v)}
}

func positiveRate(flag string, v float64) rangeCheck {
	return floatIn(flag, v, math.SmallestNonzeroFloat64, 1e9, "want a number of calls per second above 0")
}

func durationAtLeast(flag string, v, lo time.Duration) rangeCheck {
	return rangeCheck{flag, v >= lo, fmt.Sprintf("want at least %s, got %s", lo, v)}
}

func checkRanges(checks ...rangeCheck) error {
	for _, c := range checks {
		if !c.ok {
			return fmt.Errorf("%w: --%s: %s", errUsage, c.flag, c.want)
		}
	}
	return nil
}
