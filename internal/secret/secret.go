// Package secret seals the secrets the service keeps (AWS secret keys, TSIG
// secrets, https source headers) with AES-256-GCM under a master key, and
// gives them a type that never prints its value.
//
// A sealed value is "v1" | key ID (4 bytes) | nonce (12) | ciphertext. The
// key ID lets key rotation and error messages say which key sealed a
// value; a value sealed under another key fails to open with ErrWrongKey
// instead of returning garbage.
package secret

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// KeyEnv is the environment variable that may hold the master key.
const KeyEnv = "RPZFW_MASTER_KEY"

// ErrWrongKey means a value was sealed under another master key.
var ErrWrongKey = errors.New("sealed under another master key")

var magic = []byte("v1")

// Keyring seals and opens values under one master key.
type Keyring struct {
	aead cipher.AEAD
	id   [4]byte
}

// New makes a keyring from a 32-byte key.
func New(key []byte) (*Keyring, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("the master key must be 32 bytes, got %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	k := &Keyring{aead: aead}
	sum := sha256.Sum256(append([]byte("rpzfw key id:"), key...))
	copy(k.id[:], sum[:4])
	return k, nil
}

// ID names the key (not secret: a hash prefix).
func (k *Keyring) ID() string { return hex.EncodeToString(k.id[:]) }

// Seal encrypts plaintext. purpose is bound as additional data, so a value
// sealed for one column cannot be moved into another.
func (k *Keyring) Seal(plaintext []byte, purpose string) ([]byte, error) {
	nonce := make([]byte, k.aead.NonceSize())
	if _, err := io.ReadFull(rand.Reader, nonce); err != nil {
		return nil, fmt.Errorf("sealing a secret: %w", err)
	}
	out := make([]byte, 0, len(magic)+len(k.id)+len(nonce)+len(plaintext)+k.aead.Overhead())
	out = append(out, magic...)
	out = append(out, k.id[:]...)
	out = append(out, nonce...)
	return k.aead.Seal(out, nonce, plaintext, []byte(purpose)), nil
}

// Open decrypts a sealed value.
func (k *Keyring) Open(sealed []byte, purpose string) ([]byte, error) {
	head := len(magic) + len(k.id) + k.aead.NonceSize()
	if len(sealed) < head+k.aead.Overhead() || !bytes.HasPrefix(sealed, magic) {
		return nil, errors.New("opening a secret: not a sealed value")
	}
	if !bytes.Equal(sealed[len(magic):len(magic)+len(k.id)], k.id[:]) {
		return nil, fmt.Errorf("opening a secret: %w (key %x, this is %s)", ErrWrongKey, sealed[len(magic):len(magic)+len(k.id)], k.ID())
	}
	nonce := sealed[len(magic)+len(k.id) : head]
	pt, err := k.aead.Open(nil, nonce, sealed[head:], []byte(purpose))
	if err != nil {
		return nil, fmt.Errorf("opening a secret: damaged or moved value: %w", err)
	}
	return pt, nil
}

// Reseal opens a value under old and seals it under k.
func (k *Keyring) Reseal(old *Keyring, sealed []byte, purpose string) ([]byte, error) {
	pt, err := old.Open(sealed, purpose)
	if err != nil {
		return nil, err
	}
	return k.Seal(pt, purpose)
}

// GenerateKey returns a new random master key.
func GenerateKey() ([]byte, error) {
	key := make([]byte, 32)
	if _, err := io.ReadFull(rand.Reader, key); err != nil {
		return nil, fmt.Errorf("generating a master key: %w", err)
	}
	return key, nil
}

// EncodeKey gives the text form of a key (base64), as in RPZFW_MASTER_KEY
// and the key file.
func EncodeKey(key []byte) string { return base64.StdEncoding.EncodeToString(key) }

// DecodeKey reads the text form of a key.
func DecodeKey(s string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil || len(key) != 32 {
		return nil, errors.New("the master key must be 32 bytes in base64 (make one with: head -c32 /dev/urandom | base64)")
	}
	return key, nil
}

// LoadKey returns the master key: from RPZFW_MASTER_KEY when set (getenv
// is os.Getenv in production), else from path, which is created with mode
// 0600 on first use. created says a new key file was written.
func LoadKey(getenv func(string) string, path string) (key []byte, created bool, err error) {
	if v := getenv(KeyEnv); v != "" {
		key, err := DecodeKey(v)
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", KeyEnv, err)
		}
		return key, false, nil
	}
	fi, err := os.Stat(path)
	switch {
	case err == nil:
		if !fi.Mode().IsRegular() || fi.Size() > 1024 {
			return nil, false, fmt.Errorf("master key file %s: want a small regular file", path)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			return nil, false, fmt.Errorf("master key file %s is readable by others (mode %o): chmod 600 it", path, fi.Mode().Perm())
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, false, fmt.Errorf("reading the master key: %w", err)
		}
		key, err := DecodeKey(string(b))
		if err != nil {
			return nil, false, fmt.Errorf("master key file %s: %w", path, err)
		}
		return key, false, nil
	case errors.Is(err, os.ErrNotExist):
		key, err := GenerateKey()
		if err != nil {
			return nil, false, err
		}
		if err := WriteKeyFile(path, key); err != nil {
			return nil, false, err
		}
		return key, true, nil
	default:
		return nil, false, fmt.Errorf("master key file: %w", err)
	}
}

// WriteKeyFile writes key to path with mode 0600, atomically.
func WriteKeyFile(path string, key []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("writing the master key: %w", err)
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("writing the master key: %w", err)
	}
	if _, err := f.WriteString(EncodeKey(key) + "\n"); err != nil {
		f.Close()
		return fmt.Errorf("writing the master key: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("writing the master key: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing the master key: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing the master key: %w", err)
	}
	return nil
}

// String is a secret value that never shows itself in logs, fmt or JSON.
type String string

const redacted = "[redacted]"

// String implements fmt.Stringer.
func (String) String() string { return redacted }

// GoString implements fmt.GoStringer (%#v).
func (String) GoString() string { return redacted }

// MarshalJSON writes the redaction, never the value.
func (String) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText writes the redaction (slog's text and JSON handlers use it).
func (String) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// Reveal returns the value, for the one place that must use it.
func (s String) Reveal() string { return string(s) }
