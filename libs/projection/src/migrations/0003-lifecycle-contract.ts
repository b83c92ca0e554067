import type { Migration } from './migration.js';

// The next contract (docs/architecture.md §2, §3, §9): events name their plan
// by reference, so plans are stored once in `rotation_plans` (a batch of
// thousands of zone rotations shares one) and rotations point at them. States
// come from libs/lifecycle; `intent`, `rollback` and `abandoned` are events of
// their own. What the retirement timer keeps (marks taken, `retiring`
// published) moves to `rotation_retirements`, which only the recorder's timer
// and drain marks write, so it never contends with the projection's rows.
//
// `rotations.plan` held whole plans of the previous contract; it is kept as
// `legacy_plan` for the history of those rotations and never written again.
// The views select their columns by name, so later column changes do not
// have to drop them.
export const lifecycleContract: Migration = {
  version: 3,
  name: 'plans by reference, lifecycle states, abandoned drain groups',
  sql: `
DROP VIEW rotation_stage_durations;
DROP VIEW rotation_status;

CREATE TABLE rotation_plans (
  plan_id      uuid PRIMARY KEY,
  hash         text NOT NULL,
  material     text NOT NULL,
  plan         jsonb NOT NULL,
  recorded_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE rotation_retirements (
  rotation_id   uuid PRIMARY KEY,
  marked_at     timestamptz,
  published_at  timestamptz,
  publications  integer NOT NULL DEFAULT 0
);
INSERT INTO rotation_retirements (rotation_id, marked_at)
  SELECT rotation_id, drain_marked_at FROM rotations WHERE drain_marked_at IS NOT NULL;

ALTER TABLE rotations RENAME COLUMN plan TO legacy_plan;
ALTER TABLE rotations DROP COLUMN context;
ALTER TABLE rotations DROP COLUMN drain_marked_at;
ALTER TABLE rotations ADD COLUMN plan_id uuid;
ALTER TABLE rotations ADD COLUMN batch_parent boolean NOT NULL DEFAULT false;
UPDATE rotations r SET batch_parent = true WHERE EXISTS (SELECT 1 FROM rotations child WHERE child.batch_id = r.rotation_id);
CREATE INDEX rotations_in_flight ON rotations (material, state) WHERE NOT dry_run AND NOT batch_parent
  AND state NOT IN ('completed', 'failed', 'rejected', 'abandoned');

ALTER TABLE rotation_events ADD COLUMN signer text;

ALTER TABLE rotation_drains ADD COLUMN abandoned boolean NOT NULL DEFAULT false;
ALTER TABLE rotation_drains ADD COLUMN idle_ms bigint;

CREATE VIEW rotation_status AS
WITH candidates AS (
  SELECT rotation_id, material, zone_id, role, state, requested_at, created_at, updated_at, new_kid, completed_at
  FROM rotations
  WHERE material IS NOT NULL
    AND NOT dry_run
    AND NOT batch_parent
    AND state <> 'rejected'
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

-- The time each stage took: between consecutive steps of a rotation. Operator
-- intents, their refusals and Caracal's completed announcement are not steps.
CREATE VIEW rotation_stage_durations AS
WITH steps AS (
  SELECT rotation_id, type, data ->> 'phase' AS phase, event_id, occurred_at
  FROM rotation_events
  WHERE type NOT IN ('rotation.intent', 'rotation.completed')
    AND NOT (type = 'rotation.rejected' AND data ? 'intent')
)
SELECT
  s.rotation_id,
  s.type,
  s.phase,
  s.event_id,
  s.occurred_at,
  lag(s.type) OVER w AS previous_type,
  lag(s.occurred_at) OVER w AS previous_occurred_at,
  EXTRACT(EPOCH FROM s.occurred_at - lag(s.occurred_at) OVER w)::double precision AS seconds_since_previous
FROM steps s
WINDOW w AS (PARTITION BY s.rotation_id ORDER BY s.occurred_at, s.event_id);
`,
};
