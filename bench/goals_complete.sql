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
WITH ctx AS (
  SELECT g.id AS goal_id,
         coalesce((SELECT c.streak_days FROM goals.completions c
                    WHERE c.user_id = ('00000000-0000-4000-8000-' || lpad(:u::text, 12, '0'))::uuid
                      AND c.mission_id = (ARRAY['water-8-cups','walk-7000-steps','sleep-7-hours','breathing-5','bp-check'])[:mi]
                      AND c.day = (now() AT TIME ZONE 'Asia/Seoul')::date - 1), 0) + 1 AS streak,
         (SELECT count(*) FROM goals.completions c
           WHERE c.user_id = ('00000000-0000-4000-8000-' || lpad(:u::text, 12, '0'))::uuid
             AND c.mission_id = (ARRAY['water-8-cups','walk-7000-steps','sleep-7-hours','breathing-5','bp-check'])[:mi]) AS total
  FROM goals.goals g JOIN goals.goal_missions gm ON gm.goal_id = g.id
  WHERE g.user_id = ('00000000-0000-4000-8000-' || lpad(:u::text, 12, '0'))::uuid AND g.end_date IS NULL
    AND gm.mission_id = (ARRAY['water-8-cups','walk-7000-steps','sleep-7-hours','breathing-5','bp-check'])[:mi]),
ins AS (
  INSERT INTO goals.completions (user_id, mission_id, day, goal_id, completed_at, notes, streak_days, points)
  SELECT ('00000000-0000-4000-8000-' || lpad(:u::text, 12, '0'))::uuid,
         (ARRAY['water-8-cups','walk-7000-steps','sleep-7-hours','breathing-5','bp-check'])[:mi],
         (now() AT TIME ZONE 'Asia/Seoul')::date, goal_id, now(), NULL, streak,
         ('{10,10,20,20,20,20,30}'::int[])[least(streak, 7)]
  FROM ctx
  ON CONFLICT ON CONSTRAINT completions_pkey DO NOTHING
  RETURNING streak_days, points)
SELECT ctx.goal_id, ctx.total, ins.streak_days, ins.points FROM ctx LEFT JOIN ins ON true \gset
INSERT INTO events.outbox (id, event_type, payload, correlation_id, data_subjects)
VALUES (gen_random_uuid(), 'mission.completed',
        jsonb_build_object('userId', ('00000000-0000-4000-8000-' || lpad(:u::text, 12, '0')), 'goalId', :goal_id::text,
                           'missionId', (ARRAY['water-8-cups','walk-7000-steps','sleep-7-hours','breathing-5','bp-check'])[:mi],
                           'day', (now() AT TIME ZONE 'Asia/Seoul')::date, 'streakDays', :streak_days::int, 'points', :points::int),
        NULL, ARRAY[('00000000-0000-4000-8000-' || lpad(:u::text, 12, '0'))::uuid]);
SELECT pg_notify('events_outbox', '');
END;
