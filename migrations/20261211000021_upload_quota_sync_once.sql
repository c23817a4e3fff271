-- Limits on costly actions (issue 21).
--
-- Every result-sheet upload is a row here from the moment it is let in, before a byte is read:
-- RESERVED while it streams (with the bytes it may take), then STORED or REFUSED with the bytes it
-- took. The day's count and bytes are read from these rows (a deleted file still counted the day
-- it came in); the bytes held are the files' sizes plus what is reserved now. Reservations are
-- made under a per-user advisory lock, so concurrent uploads by one user cannot all pass one check.
CREATE TABLE health.file_uploads (
    id          uuid        NOT NULL,
    user_id     uuid        NOT NULL,
    bytes       bigint      NOT NULL,
    state       text        NOT NULL DEFAULT 'RESERVED',
    seoul_day   date        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT file_uploads_pkey PRIMARY KEY (id),
    CONSTRAINT file_uploads_state_check CHECK (state IN ('RESERVED', 'STORED', 'REFUSED')),
    CONSTRAINT file_uploads_bytes_check CHECK (bytes >= 0)
);
CREATE INDEX file_uploads_user_day_idx ON health.file_uploads (user_id, seoul_day);

-- At most one open NHIS sync per user: each start sends an approval request to a phone. A start
-- takes the user's slot as STARTING (no handle yet) before it asks the aggregator, so two
-- concurrent starts cannot both send one. Open jobs beyond the newest are ended first.
UPDATE health.sync_jobs SET status = 'FAILED', failure_reason = 'APPROVAL_EXPIRED', handle = NULL,
       completed_at = now(), updated_at = now()
 WHERE status IN ('PENDING', 'FETCHING')
   AND id NOT IN (SELECT DISTINCT ON (user_id) id FROM health.sync_jobs
                   WHERE status IN ('PENDING', 'FETCHING') ORDER BY user_id, created_at DESC);
ALTER TABLE health.sync_jobs DROP CONSTRAINT sync_jobs_status_check,
    ADD CONSTRAINT sync_jobs_status_check CHECK (status IN ('STARTING', 'PENDING', 'FETCHING', 'SUCCESS', 'FAILED')),
    DROP CONSTRAINT sync_jobs_open_has_handle,
    ADD CONSTRAINT sync_jobs_open_has_handle CHECK (status IN ('STARTING', 'SUCCESS', 'FAILED') OR handle IS NOT NULL);
DROP INDEX health.sync_jobs_open_idx;
CREATE INDEX sync_jobs_open_idx ON health.sync_jobs (expires_at) WHERE status IN ('STARTING', 'PENDING', 'FETCHING');
CREATE UNIQUE INDEX sync_jobs_one_open_per_user ON health.sync_jobs (user_id) WHERE status IN ('STARTING', 'PENDING', 'FETCHING');
