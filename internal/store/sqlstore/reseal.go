package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/rpzfw/rpzfw/internal/store"
)

// sealedColumn is one column of sealed values and the purpose they were
// sealed for.
type sealedColumn struct {
	table, column, purpose string
	// noun and label name a row in errors ("device" and its nickname).
	noun, label string
}

var sealedColumns = []sealedColumn{
	{"devices", "secret_key", store.PurposeDeviceSecret, "device", "nickname"},
	{"policies", "secrets", store.PurposePolicySecrets, "policy", "name"},
}

// Reseal passes every sealed value through f and stores the results, in one
// transaction: a failure of f or of the database leaves every value as it
// was, so a rotation never leaves values sealed under two keys. It neither
// bumps versions nor generations: what the values say has not changed.
func (d *DB) Reseal(ctx context.Context, f func(purpose string, old []byte) ([]byte, error)) (int, error) {
	n := 0
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		for _, c := range sealedColumns {
			k, err := d.resealColumn(ctx, tx, c, f)
			n += k
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("re-sealing secrets: %w", err)
	}
	return n, nil
}

func (d *DB) resealColumn(ctx context.Context, tx *sql.Tx, c sealedColumn, f func(string, []byte) ([]byte, error)) (int, error) {
	type row struct {
		id    int64
		label string
		val   []byte
	}
	// Read every row before writing any: one connection cannot run a
	// statement while a result set is open on it. On PostgreSQL the rows
	// are locked so that a concurrent update cannot be overwritten with a
	// value re-sealed from its old one.
	rows, err := tx.QueryContext(ctx, `SELECT id, `+c.label+`, `+c.column+` FROM `+c.table+` WHERE `+c.column+` IS NOT NULL ORDER BY id`+d.forUpdate())
	if err != nil {
		return 0, fmt.Errorf("reading %s.%s: %w", c.table, c.column, err)
	}
	var all []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.id, &r.label, &r.val); err != nil {
			rows.Close()
			return 0, fmt.Errorf("reading %s.%s: %w", c.table, c.column, err)
		}
		all = append(all, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("reading %s.%s: %w", c.table, c.column, err)
	}
	for _, r := range all {
		v, err := f(c.purpose, r.val)
		if err != nil {
			return 0, fmt.Errorf("%s of %s %q: %w", c.purpose, c.noun, r.label, err)
		}
		if v == nil {
			return 0, fmt.Errorf("%s of %s %q: re-sealing gave no value", c.purpose, c.noun, r.label)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE `+c.table+` SET `+c.column+` = $1 WHERE id = $2`, v, r.id); err != nil {
			return 0, fmt.Errorf("storing %s.%s: %w", c.table, c.column, err)
		}
	}
	return len(all), nil
}
