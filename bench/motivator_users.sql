-- Generates :n users for the motivator's tests and bench, in SQL (fast): ids md5('u'||i)::uuid,
-- 4 of 5 with an open goal of two missions since 2026-11-20, every 3rd with the night-time
-- consent. psql: psql -v n=10000 -f bench/motivator_users.sql; the black-box test binds $1.
INSERT INTO users.users (id, status, email, name, birth_date, sex)
SELECT md5('u' || i)::uuid, 'ACTIVE', 'u' || i || '@example.com', '사용자', DATE '1985-03-01', 'FEMALE'
FROM generate_series(1, :n) i;
INSERT INTO goals.goals (id, user_id, start_date)
SELECT md5('g' || i)::uuid, md5('u' || i)::uuid, DATE '2026-11-20' FROM generate_series(1, :n) i WHERE i % 5 <> 0;
INSERT INTO goals.goal_missions (goal_id, mission_id, position)
SELECT md5('g' || i)::uuid, m.id, m.pos
FROM generate_series(1, :n) i, (VALUES ('walk-7000-steps', 1), ('water-8-cups', 2)) AS m(id, pos)
WHERE i % 5 <> 0;
INSERT INTO users.consents (user_id, kind, version, granted)
SELECT md5('u' || i)::uuid, 'NIGHT_PROMOTIONAL', '2026-11', true FROM generate_series(1, :n) i WHERE i % 3 = 0;
ANALYZE users.users, goals.goals, goals.goal_missions, users.consents;
