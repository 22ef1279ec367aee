-- Idempotency-Key records: the first answer to a creating POST, replayed to
-- a retry with the same key, body and API key for 24 hours. Kept here, not
-- in Redis, so every API replica honours them and a Redis restart loses
-- none. A row whose status is NULL is a request still being answered.
CREATE TABLE idempotency_keys (
    api_key_id   text NOT NULL,
    key          text NOT NULL,
    -- SHA-256 of the method, route and body: the same key with another
    -- request is refused, never replayed.
    request_hash bytea NOT NULL,
    status       int,
    location     text,
    content_type text,
    body         bytea,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    PRIMARY KEY (api_key_id, key)
);
CREATE INDEX idempotency_keys_expiry_idx ON idempotency_keys (expires_at);

-- CSV exports neutralise formula-like cells (OWASP "CSV injection") unless
-- the request turned it off. Exports written before stay as they were.
ALTER TABLE exports ADD COLUMN csv_formula_escape boolean NOT NULL DEFAULT false;
