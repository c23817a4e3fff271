-- Events carry references, not long id lists (issue 20): a notification.created event names the
-- push batch its notifications were written with, and the push consumer reads them from here.
ALTER TABLE motivator.notifications ADD COLUMN push_batch uuid;
CREATE INDEX notifications_push_batch_idx ON motivator.notifications (push_batch) WHERE pushed_at IS NULL;

-- An operator's nudge targets, split into slices before anything is published: each nudge.batch
-- slice names (run, after, until] of this list. No foreign key to users: an operator may name ids
-- that do not exist (each is still checked for an open goal); erasure deletes a user's rows.
CREATE TABLE motivator.nudge_targets (
    run_id   uuid NOT NULL,
    user_id  uuid NOT NULL,
    CONSTRAINT nudge_targets_pkey PRIMARY KEY (run_id, user_id),
    CONSTRAINT nudge_targets_run_fkey FOREIGN KEY (run_id) REFERENCES motivator.nudge_runs (id) ON DELETE CASCADE
);
CREATE INDEX nudge_targets_user_idx ON motivator.nudge_targets (user_id);

-- What the Notification Hub holds: one installation per device token (its id a hash of the
-- token), tagged user:{id}. No foreign key to users: when a user is erased the row loses its
-- token and is marked, and stays until the hub has forgotten the installation too.
CREATE TABLE motivator.installations (
    installation_id  text        NOT NULL,
    user_id          uuid        NOT NULL,
    platform         text        NOT NULL,
    token            text,
    installed_at     timestamptz NOT NULL DEFAULT now(),
    erased_at        timestamptz,
    CONSTRAINT installations_pkey PRIMARY KEY (installation_id),
    CONSTRAINT installations_platform_check CHECK (platform IN ('FCM', 'APNS')),
    CONSTRAINT installations_erased_check CHECK ((erased_at IS NULL) = (token IS NOT NULL))
);
CREATE INDEX installations_user_idx ON motivator.installations (user_id);
