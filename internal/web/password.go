package web

import (
	"errors"
	"fmt"

	"golang.org/x/crypto/bcrypt"
)

// Password bounds. bcrypt reads at most 72 bytes, so a longer password
// is refused rather than silently cut.
const (
	MinPassword = 10
	MaxPassword = 72
	// bcryptCost is the work factor of new hashes.
	bcryptCost = 12
)

// HashPassword returns the bcrypt hash of a new password.
func HashPassword(password string) (string, error) {
	if len(password) < MinPassword || len(password) > MaxPassword {
		return "", fmt.Errorf("a password has %d to %d bytes", MinPassword, MaxPassword)
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcryptCost)
	if err != nil {
		return "", err
	}
	return string(h), nil
}

// dummyHash is compared against when the user does not exist, so a
// login takes as long for a wrong name as for a wrong password.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("not a password of anyone"), bcryptCost)

// checkPassword says whether password matches hash ("" checks against a
// dummy and fails).
func checkPassword(hash, password string) bool {
	if hash == "" {
		_ = bcrypt.CompareHashAndPassword(dummyHash, []byte(password))
		return false
	}
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
}

// CheckUserName says whether name can be a login name: 1 to 64 letters,
// digits and . _ @ -.
func CheckUserName(name string) error {
	if name == "" || len(name) > 64 {
		return errors.New("a user name has 1 to 64 characters")
	}
	for _, c := range name {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '@', c == '-':
		default:
			return fmt.Errorf("%q: a user name has only letters, digits and . _ @ -", name)
		}
	}
	return nil
}
