/**
 * What the deployments are checked against: facts about Caracal's own
 * deployments, each from the Garudex-Labs/caracal file that says so.
 */
import type { CaracalService } from '@caracal-rotation/contracts';

/** The port each service listens on (infra/docker/runtime-compose.yml `PORT`, infra/helm/caracal/values.yaml `services.*.port`). */
export const CARACAL_PORTS: Readonly<Record<CaracalService, number>> = { api: 3000, sts: 8080, gateway: 8081, audit: 9090, coordinator: 4000, web: 3002 };
export const POSTGRES_PORT = 5432;
export const REDIS_PORT = 6379;

// ---- `caracal up` (infra/docker/runtime-compose.yml, rendered into $CARACAL_HOME/compose.yml) ----

/** The compose project `caracal up` runs (runtime-compose.yml `name:`). */
export const CARACAL_COMPOSE_PROJECT = 'caracal';
/** The one network of Caracal's services (runtime-compose.yml `networks.caracalData.name`). */
export const CARACAL_COMPOSE_NETWORK = 'caracalData';
/** Compose names the single container of a service `<project>-<service>-1`. */
export const composeContainer = (service: CaracalService): string => `${CARACAL_COMPOSE_PROJECT}-${service}-1`;

/**
 * The files of Caracal's secrets directory, as `caracal up` creates them and
 * compose hands them to the services (runtime-compose.yml top-level `secrets:`;
 * packages/engine/src/secrets.ts writes and derives them).
 */
export const COMPOSE_SECRET_FILES = [
  'postgresPassword',
  'redisPassword',
  'caracalAdminToken',
  'caracalCoordinatorToken',
  'metricsBearer',
  'secretStoreKek',
  'auditHmacKey',
  'streamsHmacKey',
  'idempotencyHmacKey',
  'gatewayStsHmacKey',
  'databaseUrl',
  'apiDatabaseUrl',
  'stsDatabaseUrl',
  'gatewayDatabaseUrl',
  'auditDatabaseUrl',
  'coordinatorDatabaseUrl',
  'apiDbPassword',
  'stsDbPassword',
  'gatewayDbPassword',
  'auditDbPassword',
  'coordinatorDbPassword',
  'authDbPassword',
  'authDatabaseUrl',
  'caracalAuthSecret',
  'redisUrl',
] as const;

// ---- Helm (infra/helm/caracal) ---------------------------------------------------------------

/** The release this repository's example overlay sits beside, as Caracal's docs install it (`helm upgrade --install caracal … --namespace caracal`). */
export const HELM_RELEASE = { name: 'caracal', namespace: 'caracal' } as const;
/** templates/_helpers.tpl caracal.fullname: `<release>-<chart name>`. */
export const helmFullname = (release: string): string => `${release}-caracal`;
/** The runtime Secret (values.yaml `secrets.runtimeSecretName`). */
export const HELM_RUNTIME_SECRET = 'caracal-runtime';

/**
 * The workload of each service: sts and gateway are StatefulSets while
 * replayPersistence is enabled, the default (templates/deployments.yaml);
 * web is a Deployment (templates/web-deployment.yaml).
 */
export function helmWorkload(release: string, service: CaracalService): { kind: 'Deployment' | 'StatefulSet'; name: string } {
  return { kind: service === 'sts' || service === 'gateway' ? 'StatefulSet' : 'Deployment', name: `${helmFullname(release)}-${service}` };
}

/** A service's ClusterIP Service, named as its workload (templates/services.yaml). */
export const helmServiceName = (release: string, service: CaracalService): string => `${helmFullname(release)}-${service}`;

/** Labels of a service's pods: caracal.selectorLabels plus the component (templates/_helpers.tpl, deployments.yaml). */
export function helmPodLabels(release: string, service: CaracalService): Record<string, string> {
  return { 'app.kubernetes.io/name': 'caracal', 'app.kubernetes.io/instance': release, 'app.kubernetes.io/component': service };
}

/**
 * Keys of the runtime Secret the chart reads: templates/secret.yaml (which the
 * External Secrets example, examples/external-secrets/externalsecret-runtime.yaml,
 * mirrors), mounted per service by _helpers.tpl caracal.secretVolume and read
 * by web-deployment.yaml and migration-job.yaml. secretStoreKekPrevious is read
 * with secrets.kekRotation; stsAdminToken with secrets.stsAdminToken.secretName.
 */
export const HELM_RUNTIME_KEYS = [
  'postgresPassword',
  'redisPassword',
  'caracalAdminToken',
  'stsAdminToken',
  'metricsBearer',
  'caracalCoordinatorToken',
  'caracalAuthSecret',
  'secretStoreKek',
  'secretStoreKekPrevious',
  'auditHmacKey',
  'streamsHmacKey',
  'idempotencyHmacKey',
  'gatewayStsHmacKey',
  'databaseUrl',
  'apiDbPassword',
  'stsDbPassword',
  'gatewayDbPassword',
  'auditDbPassword',
  'coordinatorDbPassword',
  'authDbPassword',
  'apiDatabaseUrl',
  'stsDatabaseUrl',
  'gatewayDatabaseUrl',
  'auditDatabaseUrl',
  'coordinatorDatabaseUrl',
  'authDatabaseUrl',
  'redisUrl',
] as const;
