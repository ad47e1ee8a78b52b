package store

import (
	"context"
	"fmt"
)

// FleetTagsByTechnique lists the tags of one technique (and, when
// subTechniqueID is set, one sub-technique) across the whole fleet, newest
// first, at most limit (200 when limit ≤ 0): the drill-down of the
// dashboard's ATT&CK matrix.
func (s *Store) FleetTagsByTechnique(ctx context.Context, techniqueID, subTechniqueID string, limit int) ([]Tag, error) {
	w := &where{}
	w.add("technique_id = ?", techniqueID)
	if subTechniqueID != "" {
		w.add("sub_technique_id = ?", subTechniqueID)
	}
	if limit <= 0 {
		limit = 200
	}
	rs, err := s.db.QueryContext(ctx, s.q("SELECT "+tagCols+" FROM ttp_tag"+w.String()+" ORDER BY created_at DESC, uuid LIMIT ?"),
		append(w.args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("store: fleet tags of %s: %w", techniqueID, err)
	}
	defer rs.Close()
	out := []Tag{}
	for rs.Next() {
		t, err := scanTag(rs)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rs.Err()
}
