-- The goals domain: the mission catalogue, each user's goals (a set of 1–5 missions in force for a
-- span of Seoul dates), one completion per mission per Seoul day, and streak achievements.

-- The catalogue. Ids are stable slugs that the app, the AI recommender and history refer to:
-- never reuse or rename one. A mission is retired (retired_at set), never deleted, so goals and
-- completions that name it keep their meaning.
CREATE TABLE goals.missions (
    id                 text        NOT NULL,
    category           text        NOT NULL,
    difficulty         text        NOT NULL,
    title              text        NOT NULL,
    description        text        NOT NULL,
    health_benefit     text        NOT NULL,
    estimated_minutes  integer     NOT NULL,
    -- The measurable daily target: at least / at most `target_value` `target_unit` a day.
    target_value       integer     NOT NULL,
    target_unit        text        NOT NULL,
    target_comparison  text        NOT NULL DEFAULT 'AT_LEAST',
    -- The same target as people read it.
    target_text        text        NOT NULL,
    -- The assessment items (national checkup) the mission's habit helps with.
    helps              text[]      NOT NULL DEFAULT '{}',
    -- Suggested time of day (Asia/Seoul) for a reminder.
    reminder_time      time        NOT NULL,
    sort_order         integer     NOT NULL,
    retired_at         timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT missions_pkey PRIMARY KEY (id),
    CONSTRAINT missions_id_format CHECK (id ~ '^[a-z0-9]+(-[a-z0-9]+)*$' AND length(id) <= 64),
    CONSTRAINT missions_category_check CHECK (category IN
        ('EXERCISE', 'DIET', 'SLEEP', 'STRESS', 'HYDRATION', 'SMOKING', 'ALCOHOL', 'MONITORING')),
    CONSTRAINT missions_difficulty_check CHECK (difficulty IN ('EASY', 'MEDIUM', 'HARD')),
    CONSTRAINT missions_minutes_check CHECK (estimated_minutes BETWEEN 1 AND 600),
    CONSTRAINT missions_target_value_check CHECK (target_value >= 0),
    CONSTRAINT missions_target_unit_check CHECK (target_unit IN
        ('MINUTES', 'HOURS', 'STEPS', 'FLOORS', 'CUPS', 'SERVINGS', 'MEALS', 'TIMES', 'ITEMS',
         'DRINKS', 'CIGARETTES')),
    CONSTRAINT missions_target_comparison_check CHECK (target_comparison IN ('AT_LEAST', 'AT_MOST')),
    CONSTRAINT missions_helps_check CHECK (helps <@ ARRAY['BLOOD_PRESSURE', 'GLUCOSE', 'LIPIDS', 'WAIST',
        'BMI', 'LIVER', 'HAEMOGLOBIN', 'SMOKING', 'ALCOHOL']::text[])
);

-- A user's goal: the missions chosen together, in force on the Seoul dates
-- [start_date, end_date). end_date is the day the goal was closed (replaced or reset): the next
-- goal starts that same day, so no day belongs to two goals. NULL while the goal is open.
CREATE TABLE goals.goals (
    id            uuid        NOT NULL,
    user_id       uuid        NOT NULL,
    start_date    date        NOT NULL,
    end_date      date,
    closed_at     timestamptz,
    close_reason  text,
    -- What the user wrote when resetting (their words: exported and erased with the rest).
    reset_note    text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT goals_pkey PRIMARY KEY (id),
    CONSTRAINT goals_user_fkey FOREIGN KEY (user_id) REFERENCES users.users (id) ON DELETE CASCADE,
    CONSTRAINT goals_dates_check CHECK (end_date IS NULL OR end_date >= start_date),
    CONSTRAINT goals_closed_check CHECK ((end_date IS NULL) = (closed_at IS NULL)
        AND (end_date IS NULL) = (close_reason IS NULL)),
    CONSTRAINT goals_close_reason_check CHECK (close_reason IS NULL OR close_reason IN ('REPLACED', 'RESET')),
    CONSTRAINT goals_reset_note_length CHECK (reset_note IS NULL OR length(reset_note) <= 500)
);
-- At most one open goal per user; also the keyset order of "users with an active goal".
CREATE UNIQUE INDEX goals_one_open_per_user ON goals.goals (user_id) WHERE end_date IS NULL;
CREATE INDEX goals_user_idx ON goals.goals (user_id, start_date);

CREATE TABLE goals.goal_missions (
    goal_id     uuid        NOT NULL,
    mission_id  text        NOT NULL,
    position    smallint    NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT goal_missions_pkey PRIMARY KEY (goal_id, mission_id),
    CONSTRAINT goal_missions_goal_fkey FOREIGN KEY (goal_id) REFERENCES goals.goals (id) ON DELETE CASCADE,
    CONSTRAINT goal_missions_mission_fkey FOREIGN KEY (mission_id) REFERENCES goals.missions (id),
    CONSTRAINT goal_missions_position_check CHECK (position BETWEEN 1 AND 5)
);

-- One completion per user, mission and Seoul day: the key makes a repeated or racing request a
-- no-op. streak_days (consecutive days ending on `day`) and points are fixed when the row is
-- written: a completion can only be written for its own day, so history before it never changes.
CREATE TABLE goals.completions (
    user_id       uuid        NOT NULL,
    mission_id    text        NOT NULL,
    day           date        NOT NULL,
    goal_id       uuid        NOT NULL,
    completed_at  timestamptz NOT NULL,
    notes         text,
    streak_days   integer     NOT NULL,
    points        integer     NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT completions_pkey PRIMARY KEY (user_id, mission_id, day),
    CONSTRAINT completions_goal_fkey FOREIGN KEY (goal_id) REFERENCES goals.goals (id) ON DELETE CASCADE,
    CONSTRAINT completions_mission_fkey FOREIGN KEY (mission_id) REFERENCES goals.missions (id),
    CONSTRAINT completions_streak_check CHECK (streak_days >= 1),
    CONSTRAINT completions_points_check CHECK (points >= 0),
    CONSTRAINT completions_notes_length CHECK (notes IS NULL OR length(notes) <= 500)
);
-- A user's days, newest first (active missions, streaks, history).
CREATE INDEX completions_user_day_idx ON goals.completions (user_id, day DESC);

-- Streak milestones reached (3, 7, 21, 30 consecutive days), once per goal and mission.
CREATE TABLE goals.achievements (
    goal_id      uuid        NOT NULL,
    mission_id   text        NOT NULL,
    milestone    integer     NOT NULL,
    user_id      uuid        NOT NULL,
    achieved_on  date        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT achievements_pkey PRIMARY KEY (goal_id, mission_id, milestone),
    CONSTRAINT achievements_goal_fkey FOREIGN KEY (goal_id) REFERENCES goals.goals (id) ON DELETE CASCADE,
    CONSTRAINT achievements_milestone_check CHECK (milestone IN (3, 7, 21, 30))
);
CREATE INDEX achievements_user_idx ON goals.achievements (user_id);

-- The catalogue, written for HealthSync. Targets are per day; `helps` names checkup items whose
-- habits the mission supports (coaching, never a diagnosis).
INSERT INTO goals.missions (id, category, difficulty, title, description, health_benefit, estimated_minutes,
                            target_value, target_unit, target_comparison, target_text, helps, reminder_time, sort_order) VALUES
-- Exercise
('walk-7000-steps', 'EXERCISE', 'MEDIUM', '하루 7,000보 걷기',
 '출퇴근길이나 점심시간을 활용해 하루 걸음 수를 7,000보 이상으로 채워 보세요. 휴대폰 걸음 수로 확인하면 됩니다.',
 '꾸준한 걷기는 혈압과 혈당, 허리둘레 관리에 도움이 되는 기본 습관입니다.',
 60, 7000, 'STEPS', 'AT_LEAST', '하루 7,000보 이상', '{BLOOD_PRESSURE,GLUCOSE,WAIST,BMI,LIPIDS}', '12:30', 10),
('brisk-walk-30', 'EXERCISE', 'MEDIUM', '빠르게 걷기 30분',
 '숨이 약간 차고 대화는 할 수 있을 정도의 속도로 30분 걸어 보세요. 10분씩 세 번으로 나눠도 괜찮습니다.',
 '중간 강도 유산소 운동은 혈압, 중성지방과 HDL 콜레스테롤 관리에 도움이 됩니다.',
 30, 30, 'MINUTES', 'AT_LEAST', '빠르게 걷기 30분 이상', '{BLOOD_PRESSURE,LIPIDS,GLUCOSE,WAIST}', '18:30', 20),
('after-meal-walk-15', 'EXERCISE', 'EASY', '식후 15분 걷기',
 '식사를 마치고 30분 안에 15분 정도 가볍게 걸어 보세요. 하루 한 끼 이후면 충분합니다.',
 '식후 가벼운 활동은 식후 혈당이 천천히 오르도록 돕습니다.',
 15, 15, 'MINUTES', 'AT_LEAST', '식후 걷기 15분 이상', '{GLUCOSE,WAIST}', '13:00', 30),
('stairs-10-floors', 'EXERCISE', 'MEDIUM', '계단 10층 오르기',
 '엘리베이터 대신 계단을 이용해 하루 합계 10층을 올라 보세요. 나눠서 올라도 됩니다.',
 '짧고 자주 하는 계단 오르기는 하체 근력과 심폐 지구력을 함께 키웁니다.',
 10, 10, 'FLOORS', 'AT_LEAST', '계단 10층 이상', '{BMI,WAIST,BLOOD_PRESSURE}', '09:30', 40),
('strength-15', 'EXERCISE', 'HARD', '근력 운동 15분',
 '스쿼트, 벽 팔굽혀펴기, 플랭크처럼 맨몸으로 하는 근력 운동을 15분 해 보세요.',
 '근육량이 늘면 같은 양을 먹어도 혈당을 쓰는 힘이 커지고 허리둘레 관리가 쉬워집니다.',
 15, 15, 'MINUTES', 'AT_LEAST', '근력 운동 15분 이상', '{GLUCOSE,WAIST,BMI}', '20:00', 50),
('morning-stretch-10', 'EXERCISE', 'EASY', '아침 스트레칭 10분',
 '일어나서 목, 어깨, 허리, 다리 순서로 천천히 10분 스트레칭을 해 보세요.',
 '몸을 부드럽게 깨우는 습관은 하루 활동량을 늘리는 첫걸음이 됩니다.',
 10, 10, 'MINUTES', 'AT_LEAST', '스트레칭 10분 이상', '{}', '07:30', 60),
-- Diet
('veg-5-servings', 'DIET', 'MEDIUM', '채소·과일 다섯 접시',
 '나물, 쌈채소, 샐러드, 제철 과일을 합쳐 하루 다섯 접시(한 접시는 주먹 하나 크기)를 챙겨 드세요.',
 '채소와 과일의 식이섬유와 칼륨은 혈압과 콜레스테롤 관리에 도움이 됩니다.',
 10, 5, 'SERVINGS', 'AT_LEAST', '채소·과일 5접시 이상', '{BLOOD_PRESSURE,LIPIDS,WAIST}', '12:00', 110),
('leave-the-soup', 'DIET', 'EASY', '국물은 남기기',
 '국, 찌개, 면 요리의 국물은 건더기 위주로 먹고 남겨 보세요. 세 끼 모두 지키는 것이 목표입니다.',
 '국물을 덜 먹으면 나트륨 섭취가 크게 줄어 혈압 관리에 도움이 됩니다.',
 1, 3, 'MEALS', 'AT_LEAST', '세 끼 모두 국물 남기기', '{BLOOD_PRESSURE}', '11:50', 120),
('no-sugary-drinks', 'DIET', 'EASY', '단 음료 마시지 않기',
 '탄산음료, 가당 커피, 과일 주스 대신 물이나 무가당 차를 마셔 보세요. 오늘 단 음료 0잔이 목표입니다.',
 '액상 당을 줄이면 혈당과 중성지방, 지방간 관리에 도움이 됩니다.',
 1, 0, 'DRINKS', 'AT_MOST', '단 음료 0잔', '{GLUCOSE,LIPIDS,LIVER,WAIST}', '15:00', 130),
('whole-grain-rice', 'DIET', 'EASY', '잡곡밥 먹기',
 '흰쌀밥 대신 현미나 잡곡을 섞은 밥을 하루 두 끼 이상 드셔 보세요.',
 '통곡물의 식이섬유는 식후 혈당이 천천히 오르게 하고 포만감을 오래 유지시킵니다.',
 1, 2, 'MEALS', 'AT_LEAST', '잡곡밥 2끼 이상', '{GLUCOSE,LIPIDS}', '11:40', 140),
('no-late-snack', 'DIET', 'MEDIUM', '저녁 8시 이후 야식 끊기',
 '저녁 8시 이후에는 물 외에 아무것도 먹지 않는 것이 목표입니다. 배가 고프면 물이나 따뜻한 차를 마셔 보세요.',
 '늦은 시간의 간식을 줄이면 체중과 허리둘레, 공복 혈당 관리에 도움이 됩니다.',
 1, 0, 'TIMES', 'AT_MOST', '저녁 8시 이후 야식 0회', '{WAIST,BMI,GLUCOSE}', '19:50', 150),
-- Sleep
('sleep-7-hours', 'SLEEP', 'MEDIUM', '7시간 이상 자기',
 '잠자리에 드는 시각을 정해 두고 밤에 7시간 이상 자 보세요.',
 '충분한 수면은 혈압과 식욕 호르몬을 안정시켜 체중과 혈당 관리에 도움이 됩니다.',
 5, 7, 'HOURS', 'AT_LEAST', '수면 7시간 이상', '{BLOOD_PRESSURE,GLUCOSE}', '22:30', 210),
('screen-off-30', 'SLEEP', 'EASY', '자기 전 30분 화면 끄기',
 '잠들기 30분 전부터 휴대폰과 TV를 끄고 조명을 낮춰 보세요.',
 '밝은 화면을 멀리하면 잠드는 시간이 짧아지고 수면의 질이 좋아집니다.',
 30, 30, 'MINUTES', 'AT_LEAST', '잠들기 전 화면 끄기 30분 이상', '{}', '22:00', 220),
('same-wake-time', 'SLEEP', 'MEDIUM', '같은 시각에 일어나기',
 '주말을 포함해 정해 둔 기상 시각의 앞뒤 30분 안에 일어나 보세요.',
 '일정한 기상 시각은 생체 리듬을 안정시켜 낮 동안의 피로와 야식 욕구를 줄여 줍니다.',
 1, 1, 'TIMES', 'AT_LEAST', '정한 기상 시각 ±30분 안에 1회', '{}', '07:00', 230),
-- Stress
('breathing-5', 'STRESS', 'EASY', '복식호흡 5분',
 '편하게 앉아 4초 들이마시고 6초 내쉬는 복식호흡을 5분 동안 해 보세요.',
 '느린 호흡은 긴장을 풀어 주고 일시적으로 오른 혈압을 안정시키는 데 도움이 됩니다.',
 5, 5, 'MINUTES', 'AT_LEAST', '복식호흡 5분 이상', '{BLOOD_PRESSURE}', '15:30', 310),
('gratitude-3', 'STRESS', 'EASY', '감사한 일 세 가지 적기',
 '오늘 있었던 고마운 일이나 잘한 일을 세 가지 짧게 적어 보세요.',
 '하루를 긍정적으로 돌아보는 습관은 스트레스를 줄이고 잠들기 쉽게 해 줍니다.',
 5, 3, 'ITEMS', 'AT_LEAST', '감사한 일 3가지 이상', '{}', '21:30', 320),
('meditation-10', 'STRESS', 'MEDIUM', '명상 10분',
 '조용한 곳에서 호흡이나 몸의 감각에 집중하는 명상을 10분 해 보세요.',
 '규칙적인 명상은 스트레스를 다루는 힘을 기르고 생활 습관을 지키는 데 도움이 됩니다.',
 10, 10, 'MINUTES', 'AT_LEAST', '명상 10분 이상', '{BLOOD_PRESSURE}', '07:45', 330),
('outdoor-break-10', 'STRESS', 'EASY', '햇볕 쬐며 10분 쉬기',
 '낮 시간에 밖으로 나가 햇볕을 쬐며 10분 동안 쉬어 보세요.',
 '낮의 햇볕과 짧은 휴식은 기분을 환기하고 밤잠을 깊게 합니다.',
 10, 10, 'MINUTES', 'AT_LEAST', '햇볕 쬐며 쉬기 10분 이상', '{}', '14:00', 340),
-- Hydration
('water-8-cups', 'HYDRATION', 'EASY', '물 8잔 마시기',
 '하루 동안 물을 8잔(한 잔 약 200mL) 나눠 마셔 보세요.',
 '충분한 수분은 단 음료를 대신하고 몸의 순환을 돕습니다.',
 5, 8, 'CUPS', 'AT_LEAST', '물 8잔 이상 (한 잔 약 200mL)', '{}', '10:00', 410),
('water-before-meals', 'HYDRATION', 'EASY', '식사 전 물 한 잔',
 '세 끼 식사 전마다 물을 한 잔씩 마셔 보세요.',
 '식사 전 물 한 잔은 과식을 줄이는 데 도움이 됩니다.',
 1, 3, 'CUPS', 'AT_LEAST', '식사 전 물 3잔', '{WAIST,BMI}', '11:30', 420),
('morning-water', 'HYDRATION', 'EASY', '일어나자마자 물 한 잔',
 '아침에 일어나면 미지근한 물 한 잔으로 하루를 시작해 보세요.',
 '밤사이 부족해진 수분을 채워 하루를 가볍게 시작할 수 있습니다.',
 1, 1, 'CUPS', 'AT_LEAST', '기상 직후 물 1잔', '{}', '07:10', 430),
-- Smoking
('no-smoking-day', 'SMOKING', 'HARD', '오늘 하루 금연',
 '오늘은 담배(전자담배 포함)를 한 개비도 피우지 않는 것이 목표입니다. 보건소 금연클리닉의 도움도 받을 수 있습니다.',
 '금연은 혈압과 혈관 건강, HDL 콜레스테롤을 개선하는 가장 확실한 방법입니다.',
 1, 0, 'CIGARETTES', 'AT_MOST', '담배 0개비', '{SMOKING,BLOOD_PRESSURE,LIPIDS}', '08:30', 510),
('smoke-less-5', 'SMOKING', 'MEDIUM', '흡연 다섯 개비 이하',
 '오늘 피우는 담배를 다섯 개비 이하로 줄여 보세요. 피울 때마다 개수를 세면 도움이 됩니다.',
 '흡연량을 줄이는 것은 완전한 금연으로 가는 현실적인 단계입니다.',
 1, 5, 'CIGARETTES', 'AT_MOST', '담배 5개비 이하', '{SMOKING}', '08:30', 520),
('craving-delay-10', 'SMOKING', 'MEDIUM', '흡연 욕구 10분 미루기',
 '담배 생각이 나면 물을 마시거나 자리를 옮기며 10분을 미뤄 보세요. 하루 세 번 성공이 목표입니다.',
 '욕구는 몇 분이면 지나갑니다. 미루는 연습이 흡연량을 줄여 줍니다.',
 10, 3, 'TIMES', 'AT_LEAST', '흡연 욕구 미루기 3회 이상', '{SMOKING}', '10:30', 530),
-- Alcohol
('no-alcohol-day', 'ALCOHOL', 'MEDIUM', '오늘은 술 마시지 않기',
 '오늘은 술을 한 잔도 마시지 않는 날로 정해 보세요. 약속이 있다면 무알코올 음료를 주문해 보세요.',
 '술을 쉬는 날이 늘면 간 수치와 혈압, 중성지방 관리에 도움이 됩니다.',
 1, 0, 'DRINKS', 'AT_MOST', '술 0잔', '{ALCOHOL,LIVER,BLOOD_PRESSURE,LIPIDS}', '18:00', 610),
('alcohol-2-drinks', 'ALCOHOL', 'EASY', '술은 두 잔까지',
 '술을 마시게 되면 두 잔(소주 기준 두 잔)에서 멈춰 보세요.',
 '음주량을 줄이면 간에 가는 부담과 다음 날의 피로가 줄어듭니다.',
 1, 2, 'DRINKS', 'AT_MOST', '술 2잔 이하', '{ALCOHOL,LIVER}', '18:00', 620),
('alcohol-log', 'ALCOHOL', 'EASY', '음주량 기록하기',
 '마신 술의 종류와 잔 수를 그날 기록해 보세요. 마시지 않은 날은 0잔으로 기록하면 됩니다.',
 '기록하면 자신의 음주 습관이 눈에 보여 양과 횟수를 줄이기 쉬워집니다.',
 2, 1, 'TIMES', 'AT_LEAST', '음주 기록 1회 (마시지 않은 날은 0잔으로)', '{ALCOHOL,LIVER}', '21:00', 630),
-- Self-monitoring
('bp-check', 'MONITORING', 'EASY', '혈압 재고 기록하기',
 '아침과 저녁에 앉아서 5분 쉰 뒤 혈압을 재고 기록해 보세요.',
 '집에서 재는 혈압 기록은 생활 습관의 효과를 확인하고 진료 때 참고하기 좋습니다.',
 5, 2, 'TIMES', 'AT_LEAST', '혈압 기록 2회 (아침·저녁)', '{BLOOD_PRESSURE}', '07:20', 710),
('weigh-in', 'MONITORING', 'EASY', '아침 체중 기록하기',
 '아침에 화장실을 다녀온 뒤 같은 조건에서 체중을 재고 기록해 보세요.',
 '매일의 체중 기록은 식사와 활동을 스스로 조절하는 힘이 됩니다.',
 2, 1, 'TIMES', 'AT_LEAST', '체중 기록 1회', '{BMI,WAIST}', '07:15', 720),
('meal-log', 'MONITORING', 'MEDIUM', '세 끼 식사 기록하기',
 '무엇을 얼마나 먹었는지 세 끼 모두 짧게 기록해 보세요. 사진으로 남겨도 좋습니다.',
 '먹은 것을 기록하면 과식과 간식 습관이 눈에 보여 식습관을 바꾸기 쉬워집니다.',
 10, 3, 'MEALS', 'AT_LEAST', '식사 기록 3끼', '{GLUCOSE,WAIST,BMI}', '20:30', 730);
