-- Chat sessions are named by the app (issue 22): the id the app chose for a conversation, any 1–100
-- printable characters, scoped to its user, so the same string from two users is two sessions.
-- `id` stays the internal key the messages reference; `session_key` is what the API speaks.
-- Sessions the server named before keep their id as their key, so those ids keep working.
ALTER TABLE intelligence.chat_sessions ADD COLUMN session_key text;
UPDATE intelligence.chat_sessions SET session_key = id::text;
ALTER TABLE intelligence.chat_sessions
    ALTER COLUMN session_key SET NOT NULL,
    ADD CONSTRAINT chat_sessions_key_length CHECK (char_length(session_key) BETWEEN 1 AND 100),
    ADD CONSTRAINT chat_sessions_user_key UNIQUE (user_id, session_key);
