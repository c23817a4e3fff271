-- The intelligence domain: chat sessions and their messages, and AI token usage per user per
-- Seoul day (the daily budget). No prompt or answer of the diagnosis or recommendations is stored:
-- they are cached, and rebuilt from the checkup and the catalogue.

CREATE TABLE intelligence.chat_sessions (
    id          uuid        NOT NULL,
    user_id     uuid        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT chat_sessions_pkey PRIMARY KEY (id),
    CONSTRAINT chat_sessions_user_fkey FOREIGN KEY (user_id) REFERENCES users.users (id) ON DELETE CASCADE
);
CREATE INDEX chat_sessions_user_idx ON intelligence.chat_sessions (user_id, updated_at DESC);

-- Messages in the order they were said: `seq` counts within the session.
CREATE TABLE intelligence.chat_messages (
    session_id     uuid        NOT NULL,
    seq            integer     NOT NULL,
    user_id        uuid        NOT NULL,
    role           text        NOT NULL,
    content        text        NOT NULL,
    -- For assistant messages: which engine answered and what kind of answer it was.
    engine         text,
    response_type  text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT chat_messages_pkey PRIMARY KEY (session_id, seq),
    CONSTRAINT chat_messages_session_fkey FOREIGN KEY (session_id) REFERENCES intelligence.chat_sessions (id) ON DELETE CASCADE,
    CONSTRAINT chat_messages_user_fkey FOREIGN KEY (user_id) REFERENCES users.users (id) ON DELETE CASCADE,
    CONSTRAINT chat_messages_role CHECK (role IN ('user', 'assistant')),
    CONSTRAINT chat_messages_content_length CHECK (length(content) <= 4000)
);
CREATE INDEX chat_messages_user_idx ON intelligence.chat_messages (user_id);

-- Tokens spent on Claude per user per Seoul day.
CREATE TABLE intelligence.usage (
    user_id        uuid        NOT NULL,
    day            date        NOT NULL,
    input_tokens   bigint      NOT NULL DEFAULT 0,
    output_tokens  bigint      NOT NULL DEFAULT 0,
    calls          integer     NOT NULL DEFAULT 0,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT usage_pkey PRIMARY KEY (user_id, day),
    CONSTRAINT usage_user_fkey FOREIGN KEY (user_id) REFERENCES users.users (id) ON DELETE CASCADE
);
