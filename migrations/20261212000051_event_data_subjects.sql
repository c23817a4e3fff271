-- Erasure by data subject (issue 23). Every event row names the users it is about in
-- `data_subjects`: written at publish from the event's type (`Event::data_subjects`), copied
-- wherever the row moves (relay to the local queue, dead-lettering, replay). Erasing a user deletes
-- every row whose `data_subjects` contain them: `data_subjects @> ARRAY[$1]`, a GIN index lookup
-- per table. (Until now erasure matched `payload->>'userId'`, which missed `nudge.batch`: its user
-- ids sit under other keys.) The default serves hand-written rows only; the app always writes
-- the column.
ALTER TABLE events.outbox ADD COLUMN data_subjects uuid[] NOT NULL DEFAULT '{}';
ALTER TABLE events.dead_letters ADD COLUMN data_subjects uuid[] NOT NULL DEFAULT '{}';
ALTER TABLE events.local_queue ADD COLUMN data_subjects uuid[] NOT NULL DEFAULT '{}';

-- Rows written before: every UUID string their payload holds (the `userId` and a nudge batch's
-- ids among them). A superset of what the types name: an event id or a goal id is never a
-- user's, so it only costs a few index entries, and nothing about a user is missed.
UPDATE events.outbox SET data_subjects = ARRAY(
    SELECT DISTINCT (v #>> '{}')::uuid FROM jsonb_path_query(payload, 'strict $.**') AS v
    WHERE jsonb_typeof(v) = 'string'
      AND (v #>> '{}') ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$');
UPDATE events.dead_letters SET data_subjects = ARRAY(
    SELECT DISTINCT (v #>> '{}')::uuid FROM jsonb_path_query(body, 'strict $.**') AS v
    WHERE jsonb_typeof(v) = 'string'
      AND (v #>> '{}') ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$')
WHERE body IS NOT NULL;
UPDATE events.local_queue SET data_subjects = ARRAY(
    SELECT DISTINCT (v #>> '{}')::uuid FROM jsonb_path_query(body, 'strict $.**') AS v
    WHERE jsonb_typeof(v) = 'string'
      AND (v #>> '{}') ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$');

CREATE INDEX outbox_data_subjects_idx ON events.outbox USING gin (data_subjects);
CREATE INDEX dead_letters_data_subjects_idx ON events.dead_letters USING gin (data_subjects);
CREATE INDEX local_queue_data_subjects_idx ON events.local_queue USING gin (data_subjects);

-- The expression indexes of the `userId` erasure have no reader left.
DROP INDEX events.outbox_user_idx;
DROP INDEX events.dead_letters_user_idx;
