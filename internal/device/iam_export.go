package device

import (
	"github.com/rpzfw/rpzfw/internal/iampolicy"
	"github.com/rpzfw/rpzfw/internal/store"
)

// IAMPolicy is the least-privilege IAM policy of d in account: the one
// preflight gives, for pages that show it before any test.
func IAMPolicy(d store.Device, account string) (iampolicy.Document, error) {
	return iamPolicy(d, account)
}
