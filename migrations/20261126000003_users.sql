-- The user domain: accounts, sign-in identities, refresh tokens and consent records.
CREATE TABLE users.users (
    id           uuid        NOT NULL,
    status       text        NOT NULL DEFAULT 'PENDING',
    email        text,
    name         text,
    birth_date   date,
    sex          text,
    occupation   text,
    height_cm    numeric(4, 1),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_pkey PRIMARY KEY (id),
    CONSTRAINT users_status_check CHECK (status IN ('PENDING', 'ACTIVE')),
    CONSTRAINT users_sex_check CHECK (sex IS NULL OR sex IN ('MALE', 'FEMALE')),
    CONSTRAINT users_active_has_profile CHECK (
        status <> 'ACTIVE' OR (name IS NOT NULL AND birth_date IS NOT NULL AND sex IS NOT NULL))
);

-- Who signs in as whom: (issuer, subject) of an OpenID Connect provider, or the dev login.
CREATE TABLE users.identities (
    issuer      text        NOT NULL,
    subject     text        NOT NULL,
    user_id     uuid        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT identities_pkey PRIMARY KEY (issuer, subject),
    CONSTRAINT identities_user_fkey FOREIGN KEY (user_id) REFERENCES users.users (id) ON DELETE CASCADE
);
CREATE INDEX identities_user_idx ON users.identities (user_id);

-- Opaque refresh tokens, stored as SHA-256 hashes. Each use replaces the token by a new one of the
-- same family; presenting a replaced token again revokes the whole family.
CREATE TABLE users.refresh_tokens (
    id           uuid        NOT NULL,
    user_id      uuid        NOT NULL,
    family_id    uuid        NOT NULL,
    token_hash   bytea       NOT NULL,
    expires_at   timestamptz NOT NULL,
    replaced_at  timestamptz,
    revoked_at   timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT refresh_tokens_pkey PRIMARY KEY (id),
    CONSTRAINT refresh_tokens_hash_key UNIQUE (token_hash),
    CONSTRAINT refresh_tokens_user_fkey FOREIGN KEY (user_id) REFERENCES users.users (id) ON DELETE CASCADE
);
CREATE INDEX refresh_tokens_family_idx ON users.refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user_idx ON users.refresh_tokens (user_id);

-- Consent is a history: every grant or withdrawal is a new row; the latest per kind is in force.
CREATE TABLE users.consents (
    id           bigint GENERATED ALWAYS AS IDENTITY,
    user_id      uuid        NOT NULL,
    kind         text        NOT NULL,
    version      text        NOT NULL,
    granted      boolean     NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT consents_pkey PRIMARY KEY (id),
    CONSTRAINT consents_kind_check CHECK (kind IN ('HEALTH_DATA', 'AI_OVERSEAS_TRANSFER', 'NIGHT_PROMOTIONAL')),
    CONSTRAINT consents_user_fkey FOREIGN KEY (user_id) REFERENCES users.users (id) ON DELETE CASCADE
);
CREATE INDEX consents_user_kind_idx ON users.consents (user_id, kind, id DESC);
