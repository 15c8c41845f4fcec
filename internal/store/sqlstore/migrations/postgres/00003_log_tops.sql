-- Top lists of query names and clients per hour and per day. Kept in step
-- with ../sqlite/00003_log_tops.sql. A report over a month sums the
-- tops of its days instead of reading every hit.

-- +goose Up

-- The K most hit values of each completed bucket (width 3600 or 86400 s),
-- for each device and for all devices together (device_id 0). Made from
-- the hits by a compaction once the bucket is over.
CREATE TABLE log_tops (
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

-- The buckets whose tops are made. An object with lines of a bucket
-- deletes its row, so that it is made again.
CREATE TABLE log_tops_done (
    org_id BIGINT NOT NULL,
    width  BIGINT NOT NULL,
    at     BIGINT NOT NULL,
    PRIMARY KEY (org_id, width, at)
);

-- Hits newest first (ORDER BY at DESC, id DESC) from the index alone.
DROP INDEX log_hits_org_at;
CREATE INDEX log_hits_org_at ON log_hits (org_id, at, id);

-- +goose Down
DROP INDEX log_hits_org_at;
CREATE INDEX log_hits_org_at ON log_hits (org_id, at);
DROP TABLE log_tops_done;
DROP TABLE log_tops;
