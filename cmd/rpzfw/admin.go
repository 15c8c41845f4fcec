package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/rpzfw/rpzfw/internal/api"
	"github.com/rpzfw/rpzfw/internal/secret"
	"github.com/rpzfw/rpzfw/internal/service"
	"github.com/rpzfw/rpzfw/internal/store"
)

func runAdmin(ctx context.Context, args []string, stdout io.Writer) error {
	const help = "admin token create --name NAME [--role admin|viewer] [--org ORG] | admin user create --name NAME --role admin|viewer [--org ORG] | admin org create NAME | admin rotate-key\n(each takes serve's store flags: --config, --data-dir, --database, --master-key-file)"
	if len(args) == 0 {
		return fmt.Errorf("%w: %s", errUsage, help)
	}
	switch {
	case args[0] == "token" && len(args) > 1 && args[1] == "create":
		return adminTokenCreate(ctx, args[2:], stdout)
	case args[0] == "user" && len(args) > 1 && args[1] == "create":
		return adminUserCreate(ctx, args[2:], stdout)
	case args[0] == "org" && len(args) > 1 && args[1] == "create":
		return adminOrgCreate(ctx, args[2:], stdout)
	case args[0] == "rotate-key":
		return adminRotateKey(ctx, args[1:], stdout)
	}
	return fmt.Errorf("%w: unknown admin command %q; want %s", errUsage, args[0], help)
}

// openAdminStore parses serve's store flags plus extra ones and opens the
// store.
func openAdminStore(ctx context.Context, name, synopsis string, args []string, extra func(*serveFlags, interface {
	StringVar(*string, string, string, string)
})) (store.Store, *secret.Keyring, service.Config, []string, error) {
	fs := newFlags("admin "+name, synopsis)
	var sf serveFlags
	sf.register(fs)
	if extra != nil {
		extra(&sf, fs)
	}
	pos, err := parseFlags(fs, args)
	if err != nil {
		return nil, nil, service.Config{}, nil, err
	}
	cfg, err := sf.config()
	if err != nil {
		return nil, nil, cfg, nil, err
	}
	if err := cfg.Check(); err != nil {
		return nil, nil, cfg, nil, err
	}
	st, keys, err := service.OpenStore(ctx, cfg, slog.Default())
	return st, keys, cfg, pos, err
}

func adminTokenCreate(ctx context.Context, args []string, stdout io.Writer) error {
	var name, role string
	st, _, cfg, _, err := openAdminStore(ctx, "token create", "--name NAME [--role admin|viewer] [--org ORG]\n\nPrints a new API token; only its hash is stored.", args,
		func(_ *serveFlags, fs interface {
			StringVar(*string, string, string, string)
		}) {
			fs.StringVar(&name, "name", "", "what the token is for (required)")
			fs.StringVar(&role, "role", store.RoleAdmin, "admin (change things) or viewer (look)")
		})
	if err != nil {
		return err
	}
	defer st.Close()
	if name == "" || len(name) > 64 {
		return fmt.Errorf("%w: --name is required (at most 64 characters)", errUsage)
	}
	if role != store.RoleAdmin && role != store.RoleViewer {
		return fmt.Errorf("%w: --role %q: want admin or viewer", errUsage, role)
	}
	org := cfg.Org // --org, as serve takes it
	o, err := st.OrgByName(ctx, org)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no organization %q (rpzfw serve makes %q on first start; 'rpzfw admin org create' makes others)", org, cfg.Org)
	} else if err != nil {
		return err
	}
	plain, hash, err := api.NewToken()
	if err != nil {
		return err
	}
	if _, err := st.CreateToken(ctx, store.Token{OrgID: o.ID, Name: name, Role: role, Hash: hash}); err != nil {
		return fmt.Errorf("creating the token: %w", err)
	}
	fmt.Fprintln(stdout, plain)
	return nil
}

func adminOrgCreate(ctx context.Context, args []string, stdout io.Writer) error {
	st, _, cfg, pos, err := openAdminStore(ctx, "org create", "NAME\n\nMakes an organization with the pre-defined policies.", args, nil)
	if err != nil {
		return err
	}
	defer st.Close()
	if len(pos) != 1 {
		return fmt.Errorf("%w: give the organization's name", errUsage)
	}
	o, err := service.CreateOrg(ctx, st, cfg, pos[0])
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "organization %q created (id %d); make a token with: rpzfw admin token create --org %s --name NAME\n", o.Name, o.ID, o.Name)
	return nil
}

// adminRotateKey re-encrypts every stored secret under a new master key.
// The new key is written beside the old one first, so a crash between the
// database commit and the rename leaves both keys on disk.
func adminRotateKey(ctx context.Context, args []string, stdout io.Writer) error {
	st, oldKeys, cfg, _, err := openAdminStore(ctx, "rotate-key", "\n\nRe-encrypts every stored secret under a new master key. Stop every 'rpzfw serve' of this store first.", args, nil)
	if err != nil {
		return err
	}
	defer st.Close()
	newKey, err := secret.GenerateKey()
	if err != nil {
		return err
	}
	newKeys, err := secret.New(newKey)
	if err != nil {
		return err
	}
	fromEnv := os.Getenv(secret.KeyEnv) != ""
	pending := cfg.MasterKeyFile + ".new"
	if err := secret.WriteKeyFile(pending, newKey); err != nil {
		return err
	}
	start := time.Now()
	n, err := st.Reseal(ctx, func(purpose string, old []byte) ([]byte, error) { return newKeys.Reseal(oldKeys, old, purpose) })
	if err != nil {
		os.Remove(pending)
		return fmt.Errorf("re-encrypting secrets (nothing was changed): %w", err)
	}
	if fromEnv {
		fmt.Fprintf(stdout, "Re-encrypted %d secrets in %s. Set %s to the new key (also in %s) before starting rpzfw serve:\n\n    %s\n",
			n, time.Since(start).Round(time.Millisecond), secret.KeyEnv, pending, secret.EncodeKey(newKey))
		return nil
	}
	if err := os.Rename(pending, cfg.MasterKeyFile); err != nil {
		return fmt.Errorf("the secrets are re-encrypted under the key in %s, but it could not replace %s: move it there by hand: %w", pending, cfg.MasterKeyFile, err)
	}
	fmt.Fprintf(stdout, "Re-encrypted %d secrets in %s under a new master key (id %s) in %s.\n", n, time.Since(start).Round(time.Millisecond), newKeys.ID(), cfg.MasterKeyFile)
	return nil
}
