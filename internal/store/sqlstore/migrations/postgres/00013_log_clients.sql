-- Client addresses seen, for distinct clients. Kept in step with
-- ../sqlite/00013_log_clients.sql.

-- +goose Up
-- Distinct clients over a month counted the client rollups of every
-- device, day and action (750,000 rows for five devices and 5,000
-- clients: 0.45 s on SQLite). Here each device's addresses of an hour or
-- a day are one row each, and device 0 holds every address of the
-- organization's lines (of any device or none), so a report over all
-- devices reads one row per address and day. The client rollups move
-- here; they served nothing else.
CREATE TABLE log_clients (
    org_id    BIGINT NOT NULL,
    width     BIGINT NOT NULL,
    device_id BIGINT NOT NULL,
    at        BIGINT NOT NULL,
    value     TEXT   NOT NULL,
    PRIMARY KEY (org_id, width, device_id, at, value)
);
INSERT INTO log_clients (org_id, width, device_id, at, value)
    SELECT DISTINCT org_id, width, device_id, at, value FROM log_rollups WHERE dim = 'client' AND device_id <> 0;
INSERT INTO log_clients (org_id, width, device_id, at, value)
    SELECT DISTINCT org_id, width, 0, at, value FROM log_rollups WHERE dim = 'client';
DELETE FROM log_rollups WHERE dim = 'client';

-- +goose Down
-- The rollups' counts are not kept here: each address comes back
-- counted once, and those of lines of no device are not told apart.
INSERT INTO log_rollups (org_id, dim, width, at, device_id, action, source, value, n)
    SELECT org_id, 'client', width, at, device_id, '', '', value, 1 FROM log_clients WHERE device_id <> 0;
DROP TABLE log_clients;
