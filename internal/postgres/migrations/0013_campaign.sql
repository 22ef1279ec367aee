-- A campaign's audience is written by one COPY of hundreds of thousands of
-- rows. The foreign key to campaigns made PostgreSQL queue and run one
-- referential check per row (the freeze spent more time in them than in
-- writing the rows). The check adds nothing: the only writer of
-- campaign_members, the freeze, holds the campaign's row lock (FOR UPDATE)
-- in the transaction that writes the rows, so the campaign exists when they
-- commit, and a concurrent delete waits for it. The key's ON DELETE CASCADE
-- becomes a trigger on campaigns: one statement per deleted campaign.
ALTER TABLE campaign_members DROP CONSTRAINT campaign_members_campaign_id_fkey;

CREATE FUNCTION campaign_members_cascade() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
BEGIN
    DELETE FROM campaign_members WHERE campaign_id = OLD.id;
    RETURN OLD;
END
$$;

CREATE TRIGGER campaigns_delete_members AFTER DELETE ON campaigns
    FOR EACH ROW EXECUTE FUNCTION campaign_members_cascade();
