package store

import (
	"context"
	"fmt"
)

// AttackersOfIdentity lists the attacker profiles linked to an identity
// (the identity's "observations" in DECNET's API), most recently seen
// first, with their total.
func (s *Store) AttackersOfIdentity(ctx context.Context, identity string, limit, offset int) (rows []Attacker, total int, err error) {
	if err := s.db.QueryRowContext(ctx, s.q("SELECT COUNT(*) FROM attackers WHERE identity_id = ?"), identity).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("store: count attackers of identity %s: %w", identity, err)
	}
	rows, err = selectAll(ctx, s, "attackers of identity "+identity, "SELECT "+attackerCols+
		" FROM attackers WHERE identity_id = ? ORDER BY last_seen DESC, ip LIMIT ? OFFSET ?", []any{identity, limit, offset}, scanAttacker)
	return rows, total, err
}

// IdentitiesOfCampaignPage lists one page of the identities in a campaign,
// most recently updated first, with their total.
func (s *Store) IdentitiesOfCampaignPage(ctx context.Context, campaign string, limit, offset int) (rows []Identity, total int, err error) {
	if err := s.db.QueryRowContext(ctx, s.q("SELECT COUNT(*) FROM attacker_identities WHERE campaign_id = ?"), campaign).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("store: count identities of campaign %s: %w", campaign, err)
	}
	rows, err = selectAll(ctx, s, "identities of campaign "+campaign, "SELECT "+identityCols+
		" FROM attacker_identities WHERE campaign_id = ? ORDER BY updated_at DESC, uuid LIMIT ? OFFSET ?", []any{campaign, limit, offset}, scanIdentity)
	return rows, total, err
}
