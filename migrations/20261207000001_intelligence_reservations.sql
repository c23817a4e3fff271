-- Tokens held for AI calls in flight. A call holds the most it can spend (its input, estimated,
-- and its max_tokens) before it is sent and gives the hold back with its real usage in the same
-- transaction as the usage row, so parallel calls by one user cannot overspend the daily budget by
-- more than one call's hold. A hold outlives its call by a little and then stops counting (a crash
-- between the call and its settlement frees the tokens); expired holds are deleted on the next.

CREATE TABLE intelligence.usage_reservations (
    id          uuid        NOT NULL,
    user_id     uuid        NOT NULL,
    day         date        NOT NULL,
    tokens      bigint      NOT NULL,
    expires_at  timestamptz NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT usage_reservations_pkey PRIMARY KEY (id),
    CONSTRAINT usage_reservations_user_fkey FOREIGN KEY (user_id) REFERENCES users.users (id) ON DELETE CASCADE,
    CONSTRAINT usage_reservations_tokens CHECK (tokens > 0)
);
CREATE INDEX usage_reservations_user_day_idx ON intelligence.usage_reservations (user_id, day);
