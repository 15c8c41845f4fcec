-- The first schema. Kept in step with ../postgres/00001_initial.sql: the
-- same tables, columns and constraints, differing only in the types of
-- generated IDs and byte strings. Times are unix nanoseconds (UTC) in a
-- BIGINT, 0 for "never", so both databases compare them the same way.

-- +goose Up
CREATE TABLE orgs (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT    NOT NULL UNIQUE,
    created_at BIGINT  NOT NULL
);

CREATE TABLE tokens (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id     BIGINT  NOT NULL REFERENCES orgs (id),
    name       TEXT    NOT NULL,
    role       TEXT    NOT NULL,
    hash       BLOB    NOT NULL UNIQUE,
    created_at BIGINT  NOT NULL
);
CREATE INDEX tokens_org ON tokens (org_id);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id        BIGINT  NOT NULL REFERENCES orgs (id),
    name          TEXT    NOT NULL UNIQUE,
    role          TEXT    NOT NULL,
    password_hash TEXT    NOT NULL,
    created_at    BIGINT  NOT NULL
);
CREATE INDEX users_org ON users (org_id);

CREATE TABLE policies (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id     BIGINT  NOT NULL REFERENCES orgs (id),
    name       TEXT    NOT NULL,
    doc        TEXT    NOT NULL,
    secrets    BLOB,
    predefined BOOLEAN NOT NULL DEFAULT FALSE,
    version    BIGINT  NOT NULL,
    updated_at BIGINT  NOT NULL,
    UNIQUE (org_id, name)
);

CREATE TABLE devices (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id          BIGINT  NOT NULL REFERENCES orgs (id),
    nickname        TEXT    NOT NULL,
    provider        TEXT    NOT NULL,
    policy          TEXT    NOT NULL,
    note            TEXT    NOT NULL DEFAULT '',
    region          TEXT    NOT NULL DEFAULT '',
    rule_group_id   TEXT    NOT NULL DEFAULT '',
    endpoint_url    TEXT    NOT NULL DEFAULT '',
    priority_band   TEXT    NOT NULL DEFAULT '',
    cred_kind       TEXT    NOT NULL DEFAULT '',
    access_key_id   TEXT    NOT NULL DEFAULT '',
    secret_key      BLOB,
    role_arn        TEXT    NOT NULL DEFAULT '',
    external_id     TEXT    NOT NULL DEFAULT '',
    max_policy_size INTEGER NOT NULL DEFAULT 0,
    monitor_only    BOOLEAN NOT NULL DEFAULT FALSE,
    log_enabled     BOOLEAN NOT NULL DEFAULT FALSE,
    log_queue_url   TEXT    NOT NULL DEFAULT '',
    account_id      TEXT    NOT NULL DEFAULT '',
    paused          BOOLEAN NOT NULL DEFAULT FALSE,
    generation      BIGINT  NOT NULL,
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL,
    UNIQUE (org_id, nickname),
    -- A policy in use cannot be deleted; the store also checks this first
    -- to give a clear error, and the key catches a delete that races it.
    FOREIGN KEY (org_id, policy) REFERENCES policies (org_id, name)
);
CREATE INDEX devices_policy ON devices (org_id, policy);

CREATE TABLE device_status (
    device_id             BIGINT  PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
    state                 TEXT    NOT NULL,
    error_reason          TEXT    NOT NULL DEFAULT '',
    error_hard            BOOLEAN NOT NULL DEFAULT FALSE,
    sync_requested        BOOLEAN NOT NULL DEFAULT FALSE,
    retries               INTEGER NOT NULL DEFAULT 0,
    next_attempt          BIGINT  NOT NULL DEFAULT 0,
    policy_updated_at     BIGINT  NOT NULL DEFAULT 0,
    plan_hash             TEXT    NOT NULL DEFAULT '',
    plan_domains          INTEGER NOT NULL DEFAULT 0,
    plan_truncated        INTEGER NOT NULL DEFAULT 0,
    plan                  TEXT,
    synced_generation     BIGINT  NOT NULL DEFAULT 0,
    synced_policy_version BIGINT  NOT NULL DEFAULT 0,
    last_sync_at          BIGINT  NOT NULL DEFAULT 0,
    last_sync_result      TEXT    NOT NULL DEFAULT '',
    last_log_retrieved    BIGINT  NOT NULL DEFAULT 0,
    vpcs                  TEXT    NOT NULL DEFAULT '[]',
    updated_at            BIGINT  NOT NULL DEFAULT 0
);

CREATE TABLE sync_runs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    device_id    BIGINT  NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    cause        TEXT    NOT NULL,
    started_at   BIGINT  NOT NULL,
    took_ns      BIGINT  NOT NULL,
    result       TEXT    NOT NULL,
    error_reason TEXT    NOT NULL DEFAULT '',
    plan_hash    TEXT    NOT NULL DEFAULT '',
    calls        TEXT    NOT NULL DEFAULT '{}',
    added        INTEGER NOT NULL DEFAULT 0,
    removed      INTEGER NOT NULL DEFAULT 0,
    instance     TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX sync_runs_device ON sync_runs (device_id, started_at, id);

CREATE TABLE fwsync_state (
    device_id  BIGINT PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
    state      TEXT   NOT NULL,
    updated_at BIGINT NOT NULL
);

-- domains is the gzip of the list's domains, one a line.
CREATE TABLE fwsync_domains (
    device_id  BIGINT  NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    list_id    TEXT    NOT NULL,
    count      INTEGER NOT NULL,
    domains    BLOB    NOT NULL,
    updated_at BIGINT  NOT NULL,
    PRIMARY KEY (device_id, list_id)
);

CREATE TABLE leases (
    name       TEXT   PRIMARY KEY,
    holder     TEXT   NOT NULL,
    expires_at BIGINT NOT NULL
);

-- +goose Down
DROP TABLE leases;
DROP TABLE fwsync_domains;
DROP TABLE fwsync_state;
DROP TABLE sync_runs;
DROP TABLE device_status;
DROP TABLE devices;
DROP TABLE policies;
DROP TABLE users;
DROP TABLE tokens;
DROP TABLE orgs;
