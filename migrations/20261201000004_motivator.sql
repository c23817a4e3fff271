-- The motivator domain: each user's inbox of notifications and their push devices.

-- One row per message a user receives (the inbox). Push is a copy of an inbox entry, never the
-- only one: a failed push leaves the row here.
CREATE TABLE motivator.notifications (
    id               uuid        NOT NULL,
    user_id          uuid        NOT NULL,
    kind             text        NOT NULL,
    title            text        NOT NULL,
    body             text        NOT NULL,
    -- The daily run's segment (motivation type × urgency × streak band) and its parts.
    segment          text,
    motivation_type  text,
    priority         text,
    -- The Seoul day a daily nudge (or come-back message) is for: at most one per user and day,
    -- whatever the redeliveries (the unique index below, not a check before the insert).
    nudge_day        date,
    -- The day a referral reminder points to (the free confirmatory visit's last day).
    deadline         date,
    created_at       timestamptz NOT NULL DEFAULT now(),
    read_at          timestamptz,
    pushed_at        timestamptz,
    CONSTRAINT notifications_pkey PRIMARY KEY (id),
    CONSTRAINT notifications_user_fkey FOREIGN KEY (user_id) REFERENCES users.users (id) ON DELETE CASCADE,
    CONSTRAINT notifications_kind_check CHECK (kind IN ('WELCOME', 'RESULTS_READY', 'CONFIRMATORY_VISIT',
        'CELEBRATION', 'DAILY_NUDGE', 'COMEBACK', 'ENCOURAGEMENT')),
    CONSTRAINT notifications_daily_check CHECK ((nudge_day IS NOT NULL) = (kind IN ('DAILY_NUDGE', 'COMEBACK'))),
    CONSTRAINT notifications_priority_check CHECK (priority IS NULL OR priority IN ('HIGH', 'MEDIUM', 'LOW')),
    CONSTRAINT notifications_title_length CHECK (length(title) BETWEEN 1 AND 200),
    CONSTRAINT notifications_body_length CHECK (length(body) BETWEEN 1 AND 2000)
);
CREATE UNIQUE INDEX notifications_one_daily ON motivator.notifications (user_id, nudge_day) WHERE nudge_day IS NOT NULL;
-- The inbox, newest first, and its unread count.
CREATE INDEX notifications_inbox_idx ON motivator.notifications (user_id, created_at DESC, id DESC);
CREATE INDEX notifications_unread_idx ON motivator.notifications (user_id) WHERE read_at IS NULL;

-- The app's push tokens (FCM for Android, APNs for iOS). A token names one device, so it belongs
-- to the user who registered it last.
CREATE TABLE motivator.devices (
    token       text        NOT NULL,
    platform    text        NOT NULL,
    user_id     uuid        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT devices_pkey PRIMARY KEY (token),
    CONSTRAINT devices_user_fkey FOREIGN KEY (user_id) REFERENCES users.users (id) ON DELETE CASCADE,
    CONSTRAINT devices_platform_check CHECK (platform IN ('FCM', 'APNS')),
    CONSTRAINT devices_token_length CHECK (length(token) BETWEEN 16 AND 4096)
);
CREATE INDEX devices_user_idx ON motivator.devices (user_id);

-- One daily run (the timer's) or operator's batch, with what its slices did so far. Each slice adds
-- its figures in the transaction that writes its notifications, so they count once.
CREATE TABLE motivator.nudge_runs (
    id           uuid        NOT NULL,
    run_at       timestamptz NOT NULL,
    day          date        NOT NULL,
    trigger      text        NOT NULL,
    slice_size   integer     NOT NULL,
    slices       integer     NOT NULL DEFAULT 0,
    processed    integer     NOT NULL DEFAULT 0,
    created      integer     NOT NULL DEFAULT 0,
    skipped      integer     NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT nudge_runs_pkey PRIMARY KEY (id),
    CONSTRAINT nudge_runs_trigger_check CHECK (trigger IN ('TIMER', 'OPERATOR'))
);
