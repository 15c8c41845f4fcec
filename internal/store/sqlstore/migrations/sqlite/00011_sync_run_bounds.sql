-- Each sync run's lower bound on update calls and its make-before-break
-- calls floor, so the history says how close a sync came to the fewest
-- calls it could have made. Kept in step with
-- ../postgres/00011_sync_run_bounds.sql.

-- +goose Up
-- Runs recorded before this migration read 0 for both: unknown.
ALTER TABLE sync_runs ADD COLUMN updates_lower_bound INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sync_runs ADD COLUMN calls_floor INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE sync_runs DROP COLUMN calls_floor;
ALTER TABLE sync_runs DROP COLUMN updates_lower_bound;
