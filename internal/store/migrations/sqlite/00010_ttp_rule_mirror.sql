-- +goose Up
-- ttp_rule mirrors the rule set the TTP worker runs (embedded rules with the
-- operator's directory laid over them), rewritten at start and on every
-- reload, so SQL readers and other processes see the rules: what each is
-- called, which techniques it emits, what it reads, a hash of its
-- definition (yaml_content), and whether it is in the current set (loaded
-- = 0: the rule left the set; the row stays for the tags that name it).
-- Whether an operator disabled it is ttp_rule_state's business.
ALTER TABLE ttp_rule ADD COLUMN name TEXT NOT NULL DEFAULT '';
ALTER TABLE ttp_rule ADD COLUMN technique_ids TEXT NOT NULL DEFAULT '';
ALTER TABLE ttp_rule ADD COLUMN applies_to TEXT NOT NULL DEFAULT '';
ALTER TABLE ttp_rule ADD COLUMN definition_sha256 TEXT NOT NULL DEFAULT '';
ALTER TABLE ttp_rule ADD COLUMN loaded INTEGER NOT NULL DEFAULT 1;

-- +goose Down
ALTER TABLE ttp_rule DROP COLUMN loaded;
ALTER TABLE ttp_rule DROP COLUMN definition_sha256;
ALTER TABLE ttp_rule DROP COLUMN applies_to;
ALTER TABLE ttp_rule DROP COLUMN technique_ids;
ALTER TABLE ttp_rule DROP COLUMN name;
