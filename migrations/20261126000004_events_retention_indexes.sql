-- Indexes for the outbox sweep's pruning and for erasing a user's events (개인정보보호법 §36).
CREATE INDEX outbox_published_idx ON events.outbox (published_at) WHERE published_at IS NOT NULL;
CREATE INDEX processed_messages_processed_at_idx ON events.processed_messages (processed_at);
CREATE INDEX outbox_user_idx ON events.outbox ((payload->>'userId')) WHERE payload ? 'userId';
CREATE INDEX dead_letters_user_idx ON events.dead_letters ((body->>'userId')) WHERE body ? 'userId';
