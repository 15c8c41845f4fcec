// Package rpz reads Response Policy Zones and plain domain lists into
// policy records: a trigger (which query names a record applies to) and an
// action (what BIND would do with them), each with its file and line.
//
// Reading streams: a zone is never held as text (but for up to 1 MB of
// lines waiting for the full parser, see zonereader.go), and every record is
// handed to a callback as soon as it is parsed. A syntax error stops the read with
// "file:line: what is wrong", so a half-read feed never becomes a policy.
package rpz
