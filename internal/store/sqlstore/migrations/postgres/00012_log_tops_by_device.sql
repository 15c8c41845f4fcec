-- Tops keyed by device before time. Kept in step with
-- ../sqlite/00012_log_tops_by_device.sql: see there why.

-- +goose Up
ALTER TABLE log_tops DROP CONSTRAINT log_tops_pkey;
ALTER TABLE log_tops ADD PRIMARY KEY (org_id, dim, width, device_id, at, value);
CREATE INDEX log_tops_bucket ON log_tops (org_id, width, at);

-- +goose Down
DROP INDEX log_tops_bucket;
ALTER TABLE log_tops DROP CONSTRAINT log_tops_pkey;
ALTER TABLE log_tops ADD PRIMARY KEY (org_id, dim, width, at, device_id, value);
