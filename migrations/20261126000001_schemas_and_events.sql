-- One schema per domain, plus `events` for the outbox, processed-message ids and dead letters.
CREATE SCHEMA IF NOT EXISTS users;
CREATE SCHEMA IF NOT EXISTS health;
CREATE SCHEMA IF NOT EXISTS goals;
CREATE SCHEMA IF NOT EXISTS intelligence;
CREATE SCHEMA IF NOT EXISTS motivator;
CREATE SCHEMA IF NOT EXISTS events;
CREATE SCHEMA IF NOT EXISTS ops;

-- Transactional outbox: written in the same transaction as the state change it announces.
CREATE TABLE events.outbox (
    id              uuid        NOT NULL,
    event_type      text        NOT NULL,
    payload         jsonb       NOT NULL,
    correlation_id  text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    published_at    timestamptz,
    CONSTRAINT outbox_pkey PRIMARY KEY (id),
    CONSTRAINT outbox_event_type_format CHECK (event_type ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$')
);
-- The relay reads only what is still unpublished, oldest first.
CREATE INDEX outbox_unpublished_idx ON events.outbox (created_at, id) WHERE published_at IS NULL;

-- One row per (consumer, message) whose effect has been applied, committed with the effect.
CREATE TABLE events.processed_messages (
    consumer      text        NOT NULL,
    message_id    text        NOT NULL,
    processed_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT processed_messages_pkey PRIMARY KEY (consumer, message_id)
);

-- Messages that could not be handled: poison messages recorded by consumers, and (locally)
-- messages that exhausted their deliveries. Replayable.
CREATE TABLE events.dead_letters (
    id              bigint GENERATED ALWAYS AS IDENTITY,
    consumer        text        NOT NULL,
    message_id      text        NOT NULL,
    subject         text,
    reason          text        NOT NULL,
    body            jsonb,
    delivery_count  integer     NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    replayed_at     timestamptz,
    CONSTRAINT dead_letters_pkey PRIMARY KEY (id),
    CONSTRAINT dead_letters_consumer_message_key UNIQUE (consumer, message_id)
);

-- The local host's stand-in for Service Bus subscriptions (used only by `healthsync dev`):
-- one row per (subscribing function, event), locked while in delivery. Its id is the
-- message's SequenceNumber.
CREATE TABLE events.local_queue (
    id               bigint GENERATED ALWAYS AS IDENTITY,
    function_name    text        NOT NULL,
    message_id       text        NOT NULL,
    subject          text        NOT NULL,
    body             jsonb       NOT NULL,
    correlation_id   text,
    enqueued_at      timestamptz NOT NULL DEFAULT now(),
    delivery_count   integer     NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    locked_until     timestamptz,
    CONSTRAINT local_queue_pkey PRIMARY KEY (id),
    CONSTRAINT local_queue_function_message_key UNIQUE (function_name, message_id)
);
CREATE INDEX local_queue_due_idx ON events.local_queue (function_name, next_attempt_at);
