package service

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/rpzfw/rpzfw/internal/store"
	"github.com/rpzfw/rpzfw/internal/web"
)

// FirstUserName is the portal user made on first start.
const FirstUserName = "admin"

// firstUser makes a portal admin when the organization has no user, with
// a random password kept in the data directory (mode 0600) and shown
// once, as the first token is.
func (s *Service) firstUser(ctx context.Context, org store.Org) error {
	users, err := s.store.ListUsers(ctx, org.ID)
	if err != nil || len(users) > 0 {
		return err
	}
	password := rand.Text() // 26 characters, 130 bits
	hash, err := web.HashPassword(password)
	if err != nil {
		return fmt.Errorf("making the first portal user: %w", err)
	}
	_, err = s.store.CreateUser(ctx, store.User{OrgID: org.ID, Name: FirstUserName, Role: store.RoleAdmin, PasswordHash: hash})
	if errors.Is(err, store.ErrConflict) {
		// Another instance made it, or another organization has an
		// "admin": users are made with "rpzfw admin user create" then.
		s.log.Info("no first portal user made: the name is taken", "user", FirstUserName)
		return nil
	}
	if err != nil {
		return fmt.Errorf("making the first portal user: %w", err)
	}
	if err := os.WriteFile(s.PasswordFile(), []byte(password+"\n"), 0o600); err != nil {
		return fmt.Errorf("saving the first portal user's password: %w", err)
	}
	s.FirstPassword = password
	return nil
}

// PasswordFile is where the first portal user's password is kept.
func (s *Service) PasswordFile() string { return filepath.Join(s.cfg.DataDir, "admin.password") }
