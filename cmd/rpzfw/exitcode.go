package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// exitStatus ends a command that did its work with a status that tells a
// script something (sync --detailed-exitcode: 2 when the rule group did
// not match). Nothing is printed for it.
type exitStatus int

func (s exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(s)) }

// codedError is a failure that exits with code, whatever kind of error it
// wraps.
type codedError struct {
	err  error
	code int
}

func (e codedError) Error() string { return e.err.Error() }
func (e codedError) Unwrap() error { return e.err }

// codeOf is the exit status of a failed command: the command's choice
// (codedError), else 2 for usage errors and 1 for others.
func codeOf(err error) int {
	var ce codedError
	if errors.As(err, &ce) {
		return ce.code
	}
	if errors.Is(err, errUsage) {
		return 2
	}
	return 1
}

// flagGiven says whether args turn the boolean flag name on, for when
// they could not be parsed: -name, --name, or -name=true and the like.
func flagGiven(args []string, name string) bool {
	for _, a := range args {
		a = strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
		if a == name {
			return true
		}
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			if on, err := strconv.ParseBool(v); err == nil && on {
				return true
			}
		}
	}
	return false
}
