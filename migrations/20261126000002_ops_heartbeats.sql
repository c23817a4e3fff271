-- The backbone demonstration: a heartbeat written by HTTP or by the timer, announced through the
-- outbox, and tallied exactly once by a Service Bus-triggered consumer.
CREATE TABLE ops.heartbeats (
    id             uuid        NOT NULL,
    source         text        NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    tallied_count  integer     NOT NULL DEFAULT 0,
    tallied_at     timestamptz,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT heartbeats_pkey PRIMARY KEY (id),
    CONSTRAINT heartbeats_source_check CHECK (source IN ('http', 'timer'))
);

CREATE TABLE ops.heartbeat_tallies (
    source      text        NOT NULL,
    total       bigint      NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT heartbeat_tallies_pkey PRIMARY KEY (source)
);
