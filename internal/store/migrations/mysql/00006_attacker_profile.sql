-- +goose Up
-- The profile stage's output (docs/pipeline.md "Profile"): tools, kill-chain
-- phases, human or automated, as JSON (NULL until the stage has seen the
-- attacker), and the threat score 0–100 as a column of its own. Written by
-- the intel-profile stage only; the ingest upsert never touches them.
ALTER TABLE attackers ADD COLUMN profile MEDIUMTEXT;
ALTER TABLE attackers ADD COLUMN threat_score BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE attackers DROP COLUMN threat_score;
ALTER TABLE attackers DROP COLUMN profile;
