-- The health domain: checkups (one per person and date, whatever the source), the result sheets
-- people upload, the NHIS sync jobs of the two-step simple authentication, and the population
-- reference loaded from the NHIS open data (anonymised; never linked to a user).

CREATE TABLE health.checkup_files (
    id            uuid        NOT NULL,
    user_id       uuid        NOT NULL,
    blob_name     text        NOT NULL,
    content_type  text        NOT NULL,
    size_bytes    bigint      NOT NULL,
    sha256        bytea       NOT NULL,
    file_name     text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT checkup_files_pkey PRIMARY KEY (id),
    CONSTRAINT checkup_files_blob_key UNIQUE (blob_name),
    CONSTRAINT checkup_files_content_type_check CHECK (content_type IN ('application/pdf', 'image/jpeg', 'image/png')),
    CONSTRAINT checkup_files_size_check CHECK (size_bytes > 0 AND size_bytes <= 10485760)
);
CREATE INDEX checkup_files_user_idx ON health.checkup_files (user_id, created_at DESC);

CREATE TABLE health.checkups (
    id                 uuid        NOT NULL,
    user_id            uuid        NOT NULL,
    checkup_date       date        NOT NULL,
    source             text        NOT NULL,
    centre             text,
    centre_judgement   text,
    centre_opinion     text,
    treated_for        text[]      NOT NULL DEFAULT '{}',
    height             float8,
    weight             float8,
    waist              float8,
    systolic           float8,
    diastolic          float8,
    fasting_glucose    float8,
    total_cholesterol  float8,
    hdl                float8,
    ldl                float8,
    triglycerides      float8,
    hemoglobin         float8,
    urine_protein      smallint,
    serum_creatinine   float8,
    egfr               float8,
    ast                float8,
    alt                float8,
    ggt                float8,
    vision_left        float8,
    vision_right       float8,
    hearing_left       smallint,
    hearing_right      smallint,
    smoking            smallint,
    drinking           boolean,
    raw                jsonb       NOT NULL,
    file_id            uuid,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT checkups_pkey PRIMARY KEY (id),
    -- The same checkup arriving twice (a second sync, a retyped sheet) is stored once.
    CONSTRAINT checkups_user_date_key UNIQUE (user_id, checkup_date),
    CONSTRAINT checkups_source_check CHECK (source IN ('nhis', 'manual', 'upload')),
    CONSTRAINT checkups_urine_protein_check CHECK (urine_protein BETWEEN 1 AND 6),
    CONSTRAINT checkups_hearing_check CHECK (hearing_left BETWEEN 1 AND 2 AND hearing_right BETWEEN 1 AND 2),
    CONSTRAINT checkups_smoking_check CHECK (smoking BETWEEN 1 AND 3),
    CONSTRAINT checkups_file_fkey FOREIGN KEY (file_id) REFERENCES health.checkup_files (id) ON DELETE SET NULL
);

-- One NHIS sync: started (the aggregator waits for the user's approval), then completed once.
-- `handle` holds what the second step needs (the aggregator's transaction ids and the person's
-- name, birth date and phone) and is cleared as soon as the job ends or expires.
CREATE TABLE health.sync_jobs (
    id              uuid        NOT NULL,
    user_id         uuid        NOT NULL,
    provider        text        NOT NULL,
    status          text        NOT NULL DEFAULT 'PENDING',
    handle          jsonb,
    failure_reason  text,
    received        integer,
    new_checkups    integer,
    expires_at      timestamptz NOT NULL,
    claimed_at      timestamptz,
    completed_at    timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT sync_jobs_pkey PRIMARY KEY (id),
    CONSTRAINT sync_jobs_status_check CHECK (status IN ('PENDING', 'FETCHING', 'SUCCESS', 'FAILED')),
    CONSTRAINT sync_jobs_open_has_handle CHECK (status IN ('SUCCESS', 'FAILED') OR handle IS NOT NULL)
);
CREATE INDEX sync_jobs_user_idx ON health.sync_jobs (user_id, created_at DESC);
CREATE INDEX sync_jobs_open_idx ON health.sync_jobs (expires_at) WHERE status IN ('PENDING', 'FETCHING');

-- The NHIS open data (국민건강보험공단_건강검진정보), one partition per year so that a re-import
-- replaces a year at once. Rows are anonymised samples: no key, no user.
CREATE TABLE health.population_checkups (
    year               smallint NOT NULL,
    sido               smallint,
    sex                smallint NOT NULL,
    age_band           smallint NOT NULL,
    height             real,
    weight             real,
    waist              real,
    systolic           real,
    diastolic          real,
    fasting_glucose    real,
    total_cholesterol  real,
    triglycerides      real,
    hdl                real,
    ldl                real,
    hemoglobin         real,
    urine_protein      smallint,
    serum_creatinine   real,
    ast                real,
    alt                real,
    ggt                real,
    smoking            smallint,
    drinking           boolean
) PARTITION BY LIST (year);

-- p[1..99]: the 1st … 99th percentile of an item for one sex and 5-year age band of a year.
CREATE TABLE health.population_percentiles (
    year        smallint    NOT NULL,
    item        text        NOT NULL,
    sex         smallint    NOT NULL,
    age_band    smallint    NOT NULL,
    n           integer     NOT NULL,
    min_value   real        NOT NULL,
    max_value   real        NOT NULL,
    p           real[]      NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT population_percentiles_pkey PRIMARY KEY (year, item, sex, age_band),
    CONSTRAINT population_percentiles_p_check CHECK (cardinality(p) = 99)
);

CREATE TABLE health.population_imports (
    year         smallint    NOT NULL,
    files        text[]      NOT NULL,
    rows_loaded  bigint      NOT NULL,
    bad_rows     bigint      NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT population_imports_pkey PRIMARY KEY (year)
);
