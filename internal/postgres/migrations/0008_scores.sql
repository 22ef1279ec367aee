-- Customer scores: per generation and company, the RFM cuts and the
-- BG/NBD parameters a full sync computed, so every write into that
-- generation (shards, incremental, refresh) scores customers the same way.
CREATE TABLE score_models (
    generation      text NOT NULL,
    company_id      text NOT NULL,
    as_of           timestamptz NOT NULL,
    business_date   date NOT NULL,
    customers       bigint NOT NULL,   -- with at least one purchase
    prospects       bigint NOT NULL,   -- without
    recency_cuts    bigint[] NOT NULL, -- over -recencyDays
    frequency_cuts  bigint[] NOT NULL, -- over purchases
    monetary_cuts   bigint[] NOT NULL, -- over cents spent
    groups          jsonb NOT NULL,    -- group name -> customers at as_of
    r               double precision,  -- NULL when the model did not fit
    alpha           double precision,
    a               double precision,
    b               double precision,
    fallback        text,              -- why the model did not fit
    fit_seconds     double precision NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (generation, company_id)
);
