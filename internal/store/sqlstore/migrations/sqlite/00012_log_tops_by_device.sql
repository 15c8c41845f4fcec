-- Tops keyed by device before time. Kept in step with
-- ../postgres/00012_log_tops_by_device.sql.

-- +goose Up
-- A report over all devices reads the tops of device 0 only, but with
-- the time before the device in the key it read every device's rows of
-- the range and skipped most: a month's daily tops of five devices was
-- 174,000 rows read for 29,000 used, most of a 30-day top's time. With
-- the device first, each device's range is contiguous. Making a
-- bucket's tops deletes that bucket for every device, through the index
-- on the bucket.
CREATE TABLE log_tops_next (
    org_id    BIGINT NOT NULL,
    dim       TEXT   NOT NULL,
    width     BIGINT NOT NULL,
    at        BIGINT NOT NULL,
    device_id BIGINT NOT NULL,
    value     TEXT   NOT NULL,
    blocked   BIGINT NOT NULL,
    alerted   BIGINT NOT NULL,
    PRIMARY KEY (org_id, dim, width, device_id, at, value)
);
INSERT INTO log_tops_next SELECT org_id, dim, width, at, device_id, value, blocked, alerted FROM log_tops;
DROP TABLE log_tops;
ALTER TABLE log_tops_next RENAME TO log_tops;
CREATE INDEX log_tops_bucket ON log_tops (org_id, width, at);

-- +goose Down
CREATE TABLE log_tops_prev (
    org_id    BIGINT NOT NULL,
    dim       TEXT   NOT NULL,
    width     BIGINT NOT NULL,
    at        BIGINT NOT NULL,
    device_id BIGINT NOT NULL,
    value     TEXT   NOT NULL,
    blocked   BIGINT NOT NULL,
    alerted   BIGINT NOT NULL,
    PRIMARY KEY (org_id, dim, width, at, device_id, value)
);
INSERT INTO log_tops_prev SELECT org_id, dim, width, at, device_id, value, blocked, alerted FROM log_tops;
DROP TABLE log_tops;
ALTER TABLE log_tops_prev RENAME TO log_tops;
