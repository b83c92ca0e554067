import type { Migration } from './migration.js';

// Dashboard views (docs/architecture.md). "Latest rotation" ignores dry runs, rejected
// requests (a refused duplicate must not hide the rotation in flight) and the
// parent row of a fanned-out batch (its zones are rotations of their own).
export const views: Migration = {
  version: 2,
  name: 'dashboard views',
  sql: `
CREATE VIEW rotation_status AS
WITH candidates AS (
  SELECT r.*
  FROM rotations r
  WHERE r.material IS NOT NULL
    AND NOT r.dry_run
    AND r.state <> 'rejected'
    AND NOT EXISTS (SELECT 1 FROM rotations child WHERE child.batch_id = r.rotation_id)
),
latest AS (
  SELECT DISTINCT ON (material, zone_id, role) material, zone_id, role, rotation_id, state, updated_at
  FROM candidates
  ORDER BY material, zone_id, role, COALESCE(requested_at, created_at) DESC, rotation_id DESC
),
current AS (
  SELECT DISTINCT ON (material, zone_id, role) material, zone_id, role, rotation_id, new_kid, completed_at
  FROM candidates
  WHERE state = 'completed'
  ORDER BY material, zone_id, role, completed_at DESC NULLS LAST, rotation_id DESC
)
SELECT
  l.material,
  l.zone_id,
  l.role,
  l.rotation_id AS latest_rotation_id,
  l.state AS latest_state,
  l.updated_at AS latest_updated_at,
  c.rotation_id AS current_rotation_id,
  c.new_kid AS current_kid,
  c.completed_at AS current_since,
  EXTRACT(EPOCH FROM now() - c.completed_at)::double precision AS material_age_seconds
FROM latest l
LEFT JOIN current c
  ON c.material = l.material
 AND c.zone_id IS NOT DISTINCT FROM l.zone_id
 AND c.role IS NOT DISTINCT FROM l.role;

CREATE VIEW rotation_stage_durations AS
SELECT
  e.rotation_id,
  e.type,
  e.data ->> 'phase' AS phase,
  e.event_id,
  e.occurred_at,
  lag(e.type) OVER w AS previous_type,
  lag(e.occurred_at) OVER w AS previous_occurred_at,
  EXTRACT(EPOCH FROM e.occurred_at - lag(e.occurred_at) OVER w)::double precision AS seconds_since_previous
FROM rotation_events e
WINDOW w AS (PARTITION BY e.rotation_id ORDER BY e.occurred_at, e.event_id);
`,
};
