import type { Migration } from './migration.js';

// The projection's tables (docs/architecture.md). Columns beyond the contract: `progress` orders events so a late
// one never moves a rotation backwards; `plan` and `context` (what `retiring`
// must carry forward) let the recorder emit `retiring` from Postgres alone;
// `drain_marked_at` tells "no drain targets" apart from "marks not taken yet".
export const tables: Migration = {
  version: 1,
  name: 'projection tables',
  sql: `
CREATE TABLE rotations (
  rotation_id      uuid PRIMARY KEY,
  batch_id         uuid,
  material         text,
  zone_id          text,
  role             text,
  state            text NOT NULL CHECK (state IN ('requested', 'queued', 'planned', 'deploying', 'rolling', 'verifying',
                     'waiting_retirement', 'retiring', 'completed', 'rolling_back', 'failed', 'rejected', 'abandoned')),
  progress         integer NOT NULL,
  phase            text,
  actor            text,
  reason           text,
  ticket           text,
  emergency        boolean NOT NULL DEFAULT false,
  dry_run          boolean NOT NULL DEFAULT false,
  requested_at     timestamptz,
  completed_at     timestamptz,
  new_kid          text,
  previous_kid     text,
  secret_location  text,
  retire_after     timestamptz,
  retired_at       timestamptz,
  failure          text,
  diagnosis        text,
  rolled_back      boolean NOT NULL DEFAULT false,
  plan             jsonb,
  context          jsonb,
  drain_marked_at  timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rotations_by_created ON rotations (created_at DESC);
CREATE INDEX rotations_by_state ON rotations (state, created_at DESC);
CREATE INDEX rotations_by_subject ON rotations (material, zone_id, role, created_at DESC);
CREATE INDEX rotations_by_batch ON rotations (batch_id, created_at DESC) WHERE batch_id IS NOT NULL;
CREATE INDEX rotations_due_retirement ON rotations (retire_after) WHERE state = 'waiting_retirement';
CREATE INDEX rotations_completed_by_subject ON rotations (material, zone_id, role, completed_at DESC) WHERE state = 'completed';

CREATE TABLE rotation_events (
  event_id     uuid PRIMARY KEY,
  rotation_id  uuid NOT NULL,
  type         text NOT NULL,
  stream       text NOT NULL,
  entry_id     text NOT NULL,
  occurred_at  timestamptz NOT NULL,
  producer     text NOT NULL,
  kid          text NOT NULL,
  data         jsonb NOT NULL,
  recorded_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rotation_events_by_rotation ON rotation_events (rotation_id, occurred_at);

CREATE TABLE rotation_checks (
  event_id     uuid NOT NULL,
  rotation_id  uuid NOT NULL,
  phase        text NOT NULL,
  name         text NOT NULL,
  ok           boolean NOT NULL,
  detail       text NOT NULL,
  duration_ms  double precision NOT NULL,
  PRIMARY KEY (event_id, name)
);
CREATE INDEX rotation_checks_by_rotation ON rotation_checks (rotation_id, phase);

CREATE TABLE rotation_drains (
  rotation_id  uuid NOT NULL,
  stream       text NOT NULL,
  group_name   text NOT NULL,
  mark         text NOT NULL,
  pending      integer,
  lag          integer,
  drained      boolean NOT NULL DEFAULT false,
  marked_at    timestamptz NOT NULL DEFAULT now(),
  checked_at   timestamptz,
  PRIMARY KEY (rotation_id, stream, group_name)
);
`,
};
