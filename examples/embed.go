// Package examples holds the sample policy and lists, embedded so that the
// service can offer them as pre-defined policies with nothing else on disk.
package examples

import "embed"

// FS holds the example files.
//
//go:embed sample.rpz allow.txt block.txt policy.yaml
var FS embed.FS
