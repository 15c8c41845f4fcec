package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/rpzfw/rpzfw/internal/store"
	"github.com/rpzfw/rpzfw/internal/web"
)

// adminStdin is where admin user create reads the password (tests replace
// it).
var adminStdin io.Reader = os.Stdin

// adminUserCreate makes a portal user. The password is read from the first
// line of standard input, so it never shows in a process list or a shell
// history.
func adminUserCreate(ctx context.Context, args []string, stdout io.Writer) error {
	var name, role string
	st, _, cfg, _, err := openAdminStore(ctx, "user create", "--name NAME --role admin|viewer [--org ORG] < password\n\nMakes a portal user; the password is read from the first line of standard input (prompted for on a terminal). Only its bcrypt hash is stored.", args,
		func(_ *serveFlags, fs interface {
			StringVar(*string, string, string, string)
		}) {
			fs.StringVar(&name, "name", "", "the user's login name (required, unique across organizations)")
			fs.StringVar(&role, "role", "", "admin (change things) or viewer (look) (required)")
		})
	if err != nil {
		return err
	}
	defer st.Close()
	if err := web.CheckUserName(name); err != nil {
		return fmt.Errorf("%w: --name: %v", errUsage, err)
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
	password, err := readPassword(adminStdin)
	if err != nil {
		return err
	}
	hash, err := web.HashPassword(password)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	u, err := st.CreateUser(ctx, store.User{OrgID: o.ID, Name: name, Role: role, PasswordHash: hash})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "user %q (%s) created in organization %q; log in at the portal, http://%s/ by default\n", u.Name, u.Role, o.Name, cfg.Listen)
	return nil
}

// readPassword reads the first line of r, prompting on a terminal.
func readPassword(r io.Reader) (string, error) {
	if f, ok := r.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			fmt.Fprint(os.Stderr, "Password (it is shown as you type; pipe it in to avoid that): ")
		}
	}
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading the password: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", fmt.Errorf("%w: give the password on standard input", errUsage)
	}
	return line, nil
}
