/**
 * The part of Caracal's control-plane schema (infra/postgres/migrations/0001_baseline.up.sql)
 * the replicas read and write, with the same names, columns, constraints the
 * replicas rely on, grants per service role and the row-level-security policy
 * `zone_isolation`: a role that is not the table owner sees a row only when
 * its session sets `caracal.zone_id` to `*` or to the row's zone. The baseline
 * needs PostgreSQL 18 (transaction_timeout) and creates many more tables;
 * this subset runs on the machine's PostgreSQL 15.
 */

/** The service roles the baseline creates NOLOGIN (migrate.sh then gives them passwords). */
export const SERVICE_ROLES = ['caracalapi', 'caracalaudit', 'caracalauth', 'caracalcoordinator', 'caracalgateway', 'caracalsts'] as const;

export function rolesSql(): string {
  return SERVICE_ROLES.map(
    (role) => `CREATE ROLE ${role};
ALTER ROLE ${role} WITH NOSUPERUSER INHERIT NOCREATEROLE ${role === 'caracalauth' ? 'CREATEDB' : 'NOCREATEDB'} NOLOGIN NOREPLICATION NOBYPASSRLS;`,
  ).join('\n');
}

const ZONE_POLICY = `((current_setting('caracal.zone_id'::text, true) = '*'::text) OR (zone_id = current_setting('caracal.zone_id'::text, true)))`;

/** Tables under zone_isolation in the baseline. */
const RLS_TABLES = ['admin_audit_events', 'admin_tokens', 'audit_events', 'operator_plan_secrets', 'provider_connections', 'secret_store', 'secrets'];

export const SCHEMA_SQL = `
CREATE TABLE public.zones (
  id text PRIMARY KEY,
  name text NOT NULL,
  slug text NOT NULL CONSTRAINT zones_slug_key UNIQUE,
  dcr_enabled boolean DEFAULT false NOT NULL,
  created_at timestamptz DEFAULT now() NOT NULL,
  updated_at timestamptz DEFAULT now() NOT NULL,
  archived_at timestamptz,
  owner_account_id text,
  operator_coauthor_badge boolean DEFAULT true NOT NULL,
  operator_governed boolean DEFAULT false NOT NULL,
  created_by text,
  created_via_operator boolean DEFAULT false NOT NULL,
  updated_by text,
  updated_via_operator boolean DEFAULT false NOT NULL
);
CREATE INDEX zones_active_idx ON public.zones (id) WHERE archived_at IS NULL;

CREATE TABLE public.admin_tokens (
  id text PRIMARY KEY,
  name text NOT NULL,
  token_sha256 bytea NOT NULL,
  scope text NOT NULL CHECK (scope = ANY (ARRAY['global','zone'])),
  zone_id text REFERENCES public.zones(id) ON DELETE CASCADE,
  created_by text NOT NULL,
  created_at timestamptz DEFAULT now() NOT NULL,
  last_used_at timestamptz,
  revoked_at timestamptz,
  token_hash text,
  capability text DEFAULT 'write' NOT NULL CHECK (capability = ANY (ARRAY['read','write','approve'])),
  CONSTRAINT admin_token_scope_zone_pair CHECK ((scope = 'global' AND zone_id IS NULL) OR (scope = 'zone' AND zone_id IS NOT NULL))
);
CREATE UNIQUE INDEX admin_tokens_token_sha256_active ON public.admin_tokens (token_sha256) WHERE revoked_at IS NULL;

CREATE TABLE public.admin_audit_events (
  id text PRIMARY KEY,
  request_id text NOT NULL,
  actor_id text,
  actor_name text,
  actor_scope text,
  action text NOT NULL,
  method text NOT NULL,
  path text NOT NULL,
  zone_id text,
  entity_type text,
  entity_id text,
  status_code integer NOT NULL,
  payload_json jsonb,
  occurred_at timestamptz DEFAULT now() NOT NULL,
  content_sha256 text,
  prev_content_sha256 text,
  chain_hmac text,
  chain_seq bigint
);

CREATE TABLE public.secrets (
  id text PRIMARY KEY,
  zone_id text NOT NULL REFERENCES public.zones(id),
  entity_id text NOT NULL,
  name text NOT NULL,
  type text NOT NULL CHECK (type = ANY (ARRAY['token','password'])),
  envelope bytea NOT NULL,
  version integer DEFAULT 1 NOT NULL,
  created_at timestamptz DEFAULT now() NOT NULL,
  updated_at timestamptz DEFAULT now() NOT NULL
);
CREATE INDEX secrets_zone_id_entity_id_idx ON public.secrets (zone_id, entity_id);

CREATE TABLE public.secret_store (
  ref text PRIMARY KEY,
  zone_id text NOT NULL REFERENCES public.zones(id),
  envelope bytea NOT NULL,
  version integer DEFAULT 1 NOT NULL,
  created_at timestamptz DEFAULT now() NOT NULL,
  updated_at timestamptz DEFAULT now() NOT NULL
);

CREATE TABLE public.provider_connections (
  id text PRIMARY KEY,
  zone_id text NOT NULL,
  subject_id text NOT NULL,
  provider_id text NOT NULL,
  status text DEFAULT 'active' NOT NULL CHECK (status = ANY (ARRAY['active','revoked','expired'])),
  access_token_ct bytea,
  refresh_token_ct bytea,
  expires_at timestamptz,
  refreshed_at timestamptz,
  refresh_token_version integer DEFAULT 0 NOT NULL,
  created_at timestamptz DEFAULT now() NOT NULL,
  updated_at timestamptz DEFAULT now() NOT NULL
);

CREATE TABLE public.notification_sinks (
  id text PRIMARY KEY,
  zone_id text NOT NULL REFERENCES public.zones(id) ON DELETE CASCADE,
  name text NOT NULL,
  url text NOT NULL,
  secret_ct bytea NOT NULL,
  event_types text[] NOT NULL CHECK (cardinality(event_types) > 0),
  active boolean DEFAULT true NOT NULL,
  cursor_chain_seq bigint DEFAULT 0 NOT NULL,
  consecutive_failures integer DEFAULT 0 NOT NULL,
  last_success_at timestamptz,
  last_failure_at timestamptz,
  last_error text,
  created_at timestamptz DEFAULT now() NOT NULL,
  updated_at timestamptz DEFAULT now() NOT NULL
);

CREATE TABLE public.operator_plan_secrets (
  conversation_id text NOT NULL,
  zone_id text NOT NULL,
  plan_seq bigint NOT NULL CHECK (plan_seq >= 1),
  step_id text NOT NULL,
  envelope bytea NOT NULL,
  secret_keys text[] NOT NULL,
  created_at timestamptz DEFAULT now() NOT NULL,
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (conversation_id, plan_seq, step_id)
);

CREATE TABLE public.audit_events (
  id text NOT NULL,
  zone_id text NOT NULL,
  event_type text NOT NULL,
  request_id text,
  decision text,
  policy_set_id text,
  policy_set_version_id text,
  manifest_sha text,
  evaluation_status text,
  determining_policies_json jsonb,
  diagnostics_json jsonb,
  metadata_json jsonb,
  occurred_at timestamptz NOT NULL,
  ingested_at timestamptz DEFAULT now() NOT NULL,
  content_sha256 text,
  prev_content_sha256 text,
  chain_hmac text,
  chain_seq bigint,
  ingest_signature text,
  CONSTRAINT audit_events_pkey PRIMARY KEY (id, occurred_at)
) PARTITION BY RANGE (occurred_at);
CREATE TABLE public.audit_events_default PARTITION OF public.audit_events DEFAULT;
CREATE INDEX audit_events_zone_chain ON public.audit_events (zone_id, chain_seq DESC);

CREATE TABLE public.audit_ingest_alerts (
  id bigserial PRIMARY KEY,
  event_id text NOT NULL,
  zone_id text NOT NULL,
  kind text NOT NULL,
  detail text,
  observed_at timestamptz DEFAULT now() NOT NULL
);

CREATE TABLE public.audit_chain_rehash (
  id smallint DEFAULT 1 NOT NULL PRIMARY KEY CHECK (id = 1),
  completed_at timestamptz DEFAULT now() NOT NULL
);

CREATE TABLE public.authority_records (
  id text PRIMARY KEY,
  zone_id text NOT NULL REFERENCES public.zones(id),
  session_type text NOT NULL CHECK (session_type = ANY (ARRAY['user','application'])),
  subject_id text,
  parent_id text,
  status text DEFAULT 'active' NOT NULL CHECK (status = ANY (ARRAY['active','revoked','expired'])),
  expires_at timestamptz NOT NULL,
  authenticated_at timestamptz NOT NULL,
  claims_json jsonb,
  created_at timestamptz DEFAULT now() NOT NULL,
  revoked_at timestamptz,
  revoked_reason text
);

CREATE TABLE public.sessions (
  id text PRIMARY KEY,
  zone_id text NOT NULL,
  application_id text NOT NULL,
  parent_id text,
  subject_authority_record_id text NOT NULL,
  status text DEFAULT 'active' NOT NULL CHECK (status = ANY (ARRAY['active','suspended','terminated','expired'])),
  depth integer DEFAULT 0 NOT NULL,
  labels text[] DEFAULT '{}' NOT NULL,
  max_children integer DEFAULT 10 NOT NULL,
  child_count integer DEFAULT 0 NOT NULL,
  started_at timestamptz DEFAULT now() NOT NULL,
  last_active_at timestamptz DEFAULT now() NOT NULL,
  terminated_at timestamptz,
  ttl_seconds integer DEFAULT 3600,
  metadata_json jsonb,
  updated_at timestamptz DEFAULT now() NOT NULL,
  lifecycle text DEFAULT 'task' NOT NULL CHECK (lifecycle = ANY (ARRAY['task','service'])),
  last_heartbeat_at timestamptz,
  heartbeat_deadline_at timestamptz,
  termination_reason text,
  lease_generation bigint DEFAULT 0 NOT NULL
);

CREATE TABLE public.delegation_edges (
  id text PRIMARY KEY,
  zone_id text NOT NULL,
  source_session_id text NOT NULL,
  target_session_id text NOT NULL,
  issuer_application_id text NOT NULL,
  receiver_application_id text NOT NULL,
  resource_id text,
  scopes text[] DEFAULT '{}' NOT NULL,
  constraints_json jsonb DEFAULT '{}' NOT NULL,
  status text DEFAULT 'active' NOT NULL CHECK (status = ANY (ARRAY['active','revoked','expired'])),
  expires_at timestamptz NOT NULL,
  edge_version integer DEFAULT 0 NOT NULL,
  revoked_at timestamptz,
  created_at timestamptz DEFAULT now() NOT NULL,
  updated_at timestamptz DEFAULT now() NOT NULL,
  parent_edge_id text
);

CREATE TABLE public.policy_set_bindings (
  zone_id text NOT NULL,
  policy_set_id text NOT NULL,
  active_version_id text,
  updated_at timestamptz DEFAULT now() NOT NULL
);

CREATE TABLE public.event_outbox (
  id text PRIMARY KEY,
  stream_name text NOT NULL,
  payload_json jsonb NOT NULL,
  attempts integer DEFAULT 0 NOT NULL,
  available_at timestamptz DEFAULT now() NOT NULL,
  locked_until timestamptz,
  locked_by text,
  last_error text,
  dispatched_at timestamptz,
  request_id text,
  created_at timestamptz DEFAULT now() NOT NULL
);

CREATE TABLE public.caracal_outbox (
  id text PRIMARY KEY,
  producer text NOT NULL CHECK (producer = ANY (ARRAY['api','coordinator'])),
  topic text NOT NULL,
  dedupe_key text NOT NULL,
  payload_json jsonb NOT NULL,
  status text DEFAULT 'pending' NOT NULL CHECK (status = ANY (ARRAY['pending','published','dead'])),
  attempts integer DEFAULT 0 NOT NULL,
  available_at timestamptz DEFAULT now() NOT NULL,
  published_at timestamptz,
  created_at timestamptz DEFAULT now() NOT NULL,
  updated_at timestamptz DEFAULT now() NOT NULL
);

CREATE TABLE public.agent_invocations (
  id text PRIMARY KEY,
  zone_id text NOT NULL REFERENCES public.zones(id) ON DELETE CASCADE,
  service_id text NOT NULL,
  method text NOT NULL,
  status text DEFAULT 'pending' NOT NULL,
  created_at timestamptz DEFAULT now() NOT NULL,
  updated_at timestamptz DEFAULT now() NOT NULL
);

CREATE TABLE public.coordinator_idempotency_receipts (
  id text PRIMARY KEY,
  operation text NOT NULL,
  zone_id text NOT NULL REFERENCES public.zones(id) ON DELETE CASCADE,
  scope_id text NOT NULL,
  created_at timestamptz DEFAULT now() NOT NULL,
  expires_at timestamptz NOT NULL
);

${RLS_TABLES.map(
  (t) => `ALTER TABLE public.${t} ENABLE ROW LEVEL SECURITY;
CREATE POLICY zone_isolation ON public.${t} USING ${ZONE_POLICY} WITH CHECK ${ZONE_POLICY};`,
).join('\n')}

GRANT SELECT, INSERT, DELETE, UPDATE ON public.zones TO caracalapi;
GRANT SELECT ON public.zones TO caracalsts, caracalcoordinator, caracalgateway;
GRANT SELECT, INSERT, DELETE, UPDATE ON public.admin_tokens TO caracalapi;
GRANT SELECT, INSERT ON public.admin_audit_events TO caracalapi, caracalcoordinator;
GRANT SELECT, INSERT, UPDATE ON public.secrets TO caracalsts;
GRANT SELECT, INSERT, DELETE, UPDATE ON public.secrets TO caracalapi;
GRANT SELECT ON public.secret_store TO caracalsts;
GRANT SELECT, INSERT, DELETE, UPDATE ON public.secret_store TO caracalapi;
GRANT SELECT, INSERT, UPDATE ON public.provider_connections TO caracalsts;
GRANT SELECT, INSERT, DELETE, UPDATE ON public.provider_connections TO caracalapi;
GRANT SELECT, INSERT, DELETE, UPDATE ON public.notification_sinks TO caracalapi;
GRANT SELECT, INSERT, DELETE, UPDATE ON public.operator_plan_secrets TO caracalapi;
GRANT SELECT, INSERT ON public.audit_events TO caracalaudit;
GRANT SELECT ON public.audit_events TO caracalapi;
GRANT SELECT, INSERT ON public.audit_ingest_alerts TO caracalaudit;
GRANT SELECT, USAGE ON SEQUENCE public.audit_ingest_alerts_id_seq TO caracalaudit;
GRANT SELECT, INSERT, DELETE, UPDATE ON public.audit_chain_rehash TO caracalaudit;
GRANT SELECT, INSERT, UPDATE ON public.authority_records TO caracalsts;
GRANT SELECT, UPDATE ON public.authority_records TO caracalapi;
GRANT SELECT ON public.authority_records TO caracalcoordinator, caracalgateway;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.sessions TO caracalcoordinator;
GRANT SELECT, UPDATE ON public.sessions TO caracalapi;
GRANT SELECT ON public.sessions TO caracalsts, caracalgateway;
GRANT SELECT, INSERT, UPDATE ON public.delegation_edges TO caracalcoordinator;
GRANT SELECT, UPDATE ON public.delegation_edges TO caracalapi;
GRANT SELECT ON public.delegation_edges TO caracalsts, caracalgateway;
GRANT SELECT ON public.policy_set_bindings TO caracalsts;
GRANT SELECT, INSERT, DELETE, UPDATE ON public.policy_set_bindings TO caracalapi;
GRANT SELECT, INSERT, DELETE, UPDATE ON public.event_outbox TO caracalapi;
GRANT SELECT, INSERT, UPDATE ON public.caracal_outbox TO caracalapi, caracalcoordinator;
GRANT SELECT, INSERT, UPDATE ON public.agent_invocations TO caracalcoordinator;
GRANT SELECT ON public.agent_invocations TO caracalapi, caracalsts;
GRANT SELECT, INSERT, DELETE ON public.coordinator_idempotency_receipts TO caracalcoordinator;
`;
