package sqlstore

import (
	"testing"

	"github.com/rpzfw/rpzfw/internal/store"
	"github.com/rpzfw/rpzfw/internal/store/storetest"
)

func TestSessionStore(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			storetest.RunSessions(t, func(t *testing.T) store.Store { return mustOpen(t, b.dsn(t)) })
		})
	}
}
