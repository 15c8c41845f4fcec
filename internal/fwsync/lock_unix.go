//go:build unix

package fwsync

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// Lock takes the device's lock, so that two syncs of one rule group never
// interleave their changes. It fails at once when another holds it.
func (f FileStore) Lock() (unlock func(), err error) {
	if err := os.MkdirAll(f.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("locking sync state: %w", err)
	}
	fh, err := os.OpenFile(filepath.Join(f.Dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("locking sync state: %w", err)
	}
	if err := syscall.Flock(int(fh.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		fh.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("another sync of this device is running (lock %s)", fh.Name())
		}
		return nil, fmt.Errorf("locking sync state: %w", err)
	}
	return func() { _ = syscall.Flock(int(fh.Fd()), syscall.LOCK_UN); fh.Close() }, nil
}
