-- Query logs and reports. Kept in step with ../postgres/00002_logs.sql: the
-- same tables, columns and constraints, differing only in the types of
-- generated IDs. Times are unix nanoseconds (UTC), widths are seconds.

-- +goose Up

-- One row per S3 object counted, written in the same transaction as what
-- the object adds: a second delivery finds it and adds nothing.
CREATE TABLE log_objects (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    queue        TEXT    NOT NULL,
    bucket       TEXT    NOT NULL,
    object_key   TEXT    NOT NULL,
    etag         TEXT    NOT NULL,
    org_id       BIGINT  NOT NULL,
    size         BIGINT  NOT NULL DEFAULT 0,
    lines        BIGINT  NOT NULL DEFAULT 0,
    bad_lines    BIGINT  NOT NULL DEFAULT 0,
    hits         BIGINT  NOT NULL DEFAULT 0,
    unattributed BIGINT  NOT NULL DEFAULT 0,
    newest       BIGINT  NOT NULL DEFAULT 0,
    processed_at BIGINT  NOT NULL,
    instance     TEXT    NOT NULL DEFAULT '',
    UNIQUE (queue, bucket, object_key, etag)
);
CREATE INDEX log_objects_queue ON log_objects (queue, processed_at);
CREATE INDEX log_objects_processed ON log_objects (processed_at);

-- Every BLOCK and ALERT match, with the plan entry and source behind it.
CREATE TABLE log_hits (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id     BIGINT  NOT NULL,
    device_id  BIGINT  NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    at         BIGINT  NOT NULL,
    query_name TEXT    NOT NULL,
    query_type TEXT    NOT NULL,
    rcode      TEXT    NOT NULL,
    src_addr   TEXT    NOT NULL,
    src_id     TEXT    NOT NULL,
    vpc_id     TEXT    NOT NULL,
    action     TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    rule_name  TEXT    NOT NULL,
    list_id    TEXT    NOT NULL,
    entry      TEXT    NOT NULL,
    source     TEXT    NOT NULL,
    line       INTEGER NOT NULL
);
CREATE INDEX log_hits_org_at ON log_hits (org_id, at);
CREATE INDEX log_hits_device_at ON log_hits (device_id, at);

-- Resolutions by device, bucket (width 60 or 3600 s) and action (BLOCK,
-- ALERT, NONE). device_id 0 holds the lines of no device.
CREATE TABLE log_counts (
    org_id    BIGINT NOT NULL,
    width     BIGINT NOT NULL,
    at        BIGINT NOT NULL,
    device_id BIGINT NOT NULL,
    action    TEXT   NOT NULL,
    n         BIGINT NOT NULL,
    PRIMARY KEY (org_id, width, at, device_id, action)
);

-- Hits (and, for dim client, every resolution) summed by a dimension's
-- value: rule (60, 3600, 86400 s), domain and client (3600, 86400 s).
CREATE TABLE log_rollups (
    org_id    BIGINT NOT NULL,
    dim       TEXT   NOT NULL,
    width     BIGINT NOT NULL,
    at        BIGINT NOT NULL,
    device_id BIGINT NOT NULL,
    action    TEXT   NOT NULL,
    source    TEXT   NOT NULL,
    value     TEXT   NOT NULL,
    n         BIGINT NOT NULL,
    PRIMARY KEY (org_id, dim, width, at, device_id, action, source, value)
);

-- Plan versions: what each device's lists and entries held, and when.
-- valid_to 0 is "still deployed".
CREATE TABLE plan_versions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    device_id   BIGINT  NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    plan_hash   TEXT    NOT NULL,
    fingerprint TEXT    NOT NULL,
    valid_from  BIGINT  NOT NULL,
    valid_to    BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX plan_versions_device ON plan_versions (device_id, valid_to);

CREATE TABLE plan_lists (
    device_id  BIGINT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    list_id    TEXT   NOT NULL,
    rule_name  TEXT   NOT NULL,
    valid_from BIGINT NOT NULL,
    valid_to   BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX plan_lists_list ON plan_lists (device_id, list_id);

CREATE TABLE plan_entries (
    device_id  BIGINT  NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    domain     TEXT    NOT NULL,
    rule_name  TEXT    NOT NULL,
    source     TEXT    NOT NULL,
    line       INTEGER NOT NULL,
    valid_from BIGINT  NOT NULL,
    valid_to   BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX plan_entries_domain ON plan_entries (device_id, domain);
CREATE INDEX plan_entries_open ON plan_entries (device_id, valid_to);

-- The health of each log queue.
CREATE TABLE log_queues (
    queue        TEXT   PRIMARY KEY,
    org_id       BIGINT NOT NULL,
    state        TEXT   NOT NULL,
    error_reason TEXT   NOT NULL DEFAULT '',
    permission   TEXT   NOT NULL DEFAULT '',
    error_at     BIGINT NOT NULL DEFAULT 0,
    last_receive BIGINT NOT NULL DEFAULT 0,
    updated_at   BIGINT NOT NULL
);

-- Messages that kept failing, with the reason, until retried.
CREATE TABLE log_quarantine (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    queue           TEXT    NOT NULL,
    org_id          BIGINT  NOT NULL,
    message_id      TEXT    NOT NULL,
    body            TEXT    NOT NULL,
    receives        INTEGER NOT NULL,
    reason          TEXT    NOT NULL,
    quarantined_at  BIGINT  NOT NULL,
    retry_requested BOOLEAN NOT NULL DEFAULT FALSE,
    UNIQUE (queue, message_id)
);
CREATE INDEX log_quarantine_org ON log_quarantine (org_id, quarantined_at);

-- +goose Down
DROP TABLE log_quarantine;
DROP TABLE log_queues;
DROP TABLE plan_entries;
DROP TABLE plan_lists;
DROP TABLE plan_versions;
DROP TABLE log_rollups;
DROP TABLE log_counts;
DROP TABLE log_hits;
DROP TABLE log_objects;
