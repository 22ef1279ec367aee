-- Campaigns: a frozen audience split into treatment and holdout, the
-- delivery events of the message, and the per-company suppression list.

CREATE TABLE campaigns (
    id                     text PRIMARY KEY,
    company_id             text NOT NULL,
    name                   text NOT NULL,
    filter                 jsonb NOT NULL,
    holdout_percent        int NOT NULL CHECK (holdout_percent BETWEEN 0 AND 50),
    -- The company's global control percent when the audience froze.
    global_control_percent numeric(5,2) NOT NULL DEFAULT 0,
    window_days            int NOT NULL CHECK (window_days BETWEEN 1 AND 365),
    -- NULL until the audience freezes when the request named none.
    sent_at                timestamptz,
    cost_cents             bigint,
    currency               text,
    channel                text NOT NULL,
    include_suppressed     boolean NOT NULL DEFAULT false,
    state                  text NOT NULL CHECK (state IN ('freezing', 'ready', 'failed', 'archived')),
    job_id                 text NOT NULL,
    created_by             text,
    created_at             timestamptz NOT NULL DEFAULT now(),
    frozen_at              timestamptz,
    archived_at            timestamptz,
    treatment_count        bigint NOT NULL DEFAULT 0,
    holdout_count          bigint NOT NULL DEFAULT 0,
    global_control_count   bigint NOT NULL DEFAULT 0,
    -- Matching customers left out because they were suppressed.
    suppressed_count       bigint NOT NULL DEFAULT 0
);
CREATE INDEX campaigns_company_idx ON campaigns (company_id, created_at DESC, id DESC);

-- The frozen audience: one row per customer, written by the freeze job.
CREATE TABLE campaign_members (
    campaign_id text NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    customer_id text NOT NULL,
    grp         text NOT NULL CHECK (grp IN ('treatment', 'holdout', 'globalControl')),
    PRIMARY KEY (campaign_id, customer_id)
);

-- Delivery events from the email/SMS tool; the same row twice is one row.
CREATE TABLE campaign_events (
    campaign_id text NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    customer_id text NOT NULL,
    event       text NOT NULL CHECK (event IN ('delivered', 'opened', 'clicked', 'bounced', 'unsubscribed', 'complained')),
    at          timestamptz NOT NULL,
    PRIMARY KEY (campaign_id, customer_id, event, at)
);

-- Customers who must not be contacted on a channel again.
CREATE TABLE suppressions (
    company_id  text NOT NULL,
    channel     text NOT NULL,
    customer_id text NOT NULL,
    reason      text NOT NULL,
    campaign_id text,
    at          timestamptz NOT NULL,
    PRIMARY KEY (company_id, channel, customer_id)
);
CREATE INDEX suppressions_customer_idx ON suppressions (company_id, customer_id);

-- A company-wide control group: never in any campaign's treatment.
CREATE TABLE control_groups (
    company_id text PRIMARY KEY,
    percent    numeric(5,2) NOT NULL CHECK (percent >= 0 AND percent <= 50),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Exports of a campaign group, and exports that kept suppressed customers.
ALTER TABLE exports ADD COLUMN campaign_id text, ADD COLUMN campaign_group text,
    ADD COLUMN include_suppressed boolean NOT NULL DEFAULT false;
ALTER TABLE export_audit ADD COLUMN campaign_id text, ADD COLUMN campaign_group text,
    ADD COLUMN include_suppressed boolean NOT NULL DEFAULT false;
