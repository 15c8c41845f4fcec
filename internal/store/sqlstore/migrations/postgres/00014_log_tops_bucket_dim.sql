-- The tops' bucket index with the dimension. Kept in step with
-- ../sqlite/00014_log_tops_bucket_dim.sql.

-- +goose Up
-- Making a bucket's tops first deletes its rows (org, dim IN (...), width,
-- at). Without statistics (SQLite gathers none unless asked) the planner
-- took the key's first three columns, which match every bucket of that
-- width, over the bucket index's three: each bucket made read all the
-- tops of its width (150 ms a bucket for a month of tops). With the
-- dimension the bucket index matches four columns and is chosen.
DROP INDEX log_tops_bucket;
CREATE INDEX log_tops_bucket ON log_tops (org_id, width, at, dim);

-- +goose Down
DROP INDEX log_tops_bucket;
CREATE INDEX log_tops_bucket ON log_tops (org_id, width, at);
