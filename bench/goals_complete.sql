-- pgbench script: the statements of one new completion, as `goals::store::complete` runs them
-- (src/goals/store/completions.rs and platform::bus::publish), for the (user, mission) pair
-- number k of this run. bench/goals.py runs it with `-M prepared` (sqlx prepares its statements
-- too) and as many clients as the app's pool. Where the app binds a value, this script computes
-- it in SQL from k: the user id (…-8000-<k as 12 digits>), the mission, today's Seoul date, the
-- event id and payload.
\set n :n + 1
\set k :client_id + :clients * :n
\set u :first_user + (:k % :users)
\set mi 1 + (:k / :users) % 5
BEGIN;
SELECT g.id AS goal_id,
       (SELECT c.streak_days FROM goals.completions c
         WHERE c.user_id = ('00000000-0000-4000-8000-' || lpad(:u::text, 12, '0'))::uuid
           AND c.mission_id = (ARRAY['water-8-cups','walk-7000-steps','sleep-7-hours','breathing-5','bp-check'])[:mi]
           AND c.day = (now() AT TIME ZONE 'Asia/Seoul')::date - 1) AS yesterday_streak,
       (SELECT count(*) FROM goals.completions c
         WHERE c.user_id = ('00000000-0000-4000-8000-' || lpad(:u::text, 12, '0'))::uuid
           AND c.mission_id = (ARRAY['water-8-cups','walk-7000-steps','sleep-7-hours','breathing-5','bp-check'])[:mi]) AS total
FROM goals.goals g JOIN goals.goal_missions gm ON gm.goal_id = g.id
WHERE g.user_id = ('00000000-0000-4000-8000-' || lpad(:u::text, 12, '0'))::uuid AND g.end_date IS NULL
  AND gm.mission_id = (ARRAY['water-8-cups','walk-7000-steps','sleep-7-hours','breathing-5','bp-check'])[:mi] \gset
\set streak :yesterday_streak + 1
INSERT INTO goals.completions (user_id, mission_id, day, goal_id, completed_at, notes, streak_days, points)
VALUES (('00000000-0000-4000-8000-' || lpad(:u::text, 12, '0'))::uuid,
        (ARRAY['water-8-cups','walk-7000-steps','sleep-7-hours','breathing-5','bp-check'])[:mi],
        (now() AT TIME ZONE 'Asia/Seoul')::date, :goal_id, now(), NULL, :streak, 10)
ON CONFLICT ON CONSTRAINT completions_pkey DO NOTHING;
INSERT INTO events.outbox (id, event_type, payload, correlation_id)
VALUES (gen_random_uuid(), 'mission.completed',
        jsonb_build_object('userId', ('00000000-0000-4000-8000-' || lpad(:u::text, 12, '0')), 'goalId', :goal_id::text,
                           'missionId', (ARRAY['water-8-cups','walk-7000-steps','sleep-7-hours','breathing-5','bp-check'])[:mi],
                           'day', (now() AT TIME ZONE 'Asia/Seoul')::date, 'streakDays', :streak::int, 'points', 10),
        NULL);
SELECT pg_notify('events_outbox', '');
END;
