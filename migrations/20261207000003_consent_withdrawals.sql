-- The retention sweep lists withdrawals older than the retention period (docs/privacy.md); only
-- withdrawals are indexed, by kind and record id (the sweep pages through them by id).
CREATE INDEX consents_withdrawn_idx ON users.consents (kind, id) WHERE NOT granted;
