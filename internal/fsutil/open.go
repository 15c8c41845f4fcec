package fsutil

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// TooLargeError says a file holds more than the cap it was read with.
type TooLargeError struct {
	Path string
	Max  int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("%s is larger than %d bytes", e.Path, e.Max)
}

// ErrNotRegular marks a path that is not a regular file.
var ErrNotRegular = errors.New("not a regular file")

// OpenRegular opens a regular file for reading at most max bytes (max <= 0:
// no cap). A device, a pipe or a socket is refused before it is opened: it
// may never end (/dev/zero) or block the open forever (a FIFO). Reading
// past max is a *TooLargeError, never a silent truncation, so a cut-off
// copy is never taken for the whole file.
func OpenRegular(path string, max int64) (io.ReadCloser, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, notRegular(path, fi)
	}
	if max > 0 && fi.Size() > max {
		return nil, &TooLargeError{Path: path, Max: max}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	// The path may have changed between the two looks.
	if fi, err = f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		if err != nil {
			return nil, err
		}
		return nil, notRegular(path, fi)
	}
	if max <= 0 {
		return f, nil
	}
	return &capped{f: f, path: path, left: max, max: max}, nil
}

// ReadRegular reads a whole regular file of at most max bytes.
func ReadRegular(path string, max int64) ([]byte, error) {
	rc, err := OpenRegular(path, max)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

func notRegular(path string, fi os.FileInfo) error {
	what := "not a regular file"
	switch m := fi.Mode(); {
	case m.IsDir():
		what = "a directory"
	case m&os.ModeNamedPipe != 0:
		what = "a named pipe (FIFO)"
	case m&os.ModeDevice != 0:
		what = "a device"
	case m&os.ModeSocket != 0:
		what = "a socket"
	}
	return fmt.Errorf("%s is %s, %w: rpzfw reads only regular files (a device or a pipe may never end)", path, what, ErrNotRegular)
}

type capped struct {
	f    *os.File
	path string
	left int64
	max  int64
}

func (c *capped) Read(p []byte) (int, error) {
	if c.left <= 0 {
		// One more byte tells a file of exactly max bytes from a longer one.
		var one [1]byte
		n, err := c.f.Read(one[:])
		if n > 0 {
			return 0, &TooLargeError{Path: c.path, Max: c.max}
		}
		return 0, err
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.f.Read(p)
	c.left -= int64(n)
	return n, err
}

func (c *capped) Close() error { return c.f.Close() }
