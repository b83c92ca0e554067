/**
 * What a rotation of each material needs from a deployment, asked of deploy/compose and of the
 * beside-helm overlay alike: every question answers why not, or undefined when it is wired.
 */
import {
  BASELINE_CHECKS,
  CHECK_NEEDS,
  DEFAULT_CATALOG,
  ORCHESTRATOR_SERVICES,
  holdersConfigSchema,
  parseCatalog,
  type CaracalService,
  type Catalog,
  type CheckName,
  type HoldersConfig,
  type Material,
} from '@caracal-rotation/contracts';
import { parse } from 'yaml';
import {
  CARACAL_COMPOSE_NETWORK,
  CARACAL_PORTS,
  COMPOSE_SECRET_FILES,
  HELM_RELEASE,
  HELM_RUNTIME_KEYS,
  HELM_RUNTIME_SECRET,
  POSTGRES_PORT,
  REDIS_PORT,
  composeContainer,
  helmPodLabels,
  helmServiceName,
  helmWorkload,
} from './caracal.js';
import { CARACAL_SECRETS_SOURCE, ComposeModel, DOCKER_SOCKET, ROTATION_DIR_SOURCE } from './compose-model.js';
import { Rendered, type Deployment } from './k8s-objects.js';
import { type LabelSelector, type ServiceName, composeEnv, kustomize, repoFile, selects } from './support.js';

export const OVERLAY = 'deploy/k8s/overlays/beside-helm';

/**
 * Checks that present the value holders used before the rotation, which the
 * verifier finds in the version history (services/verifier/src/checks/old-material.ts,
 * postgres.ts, redis.ts: MaterialReader.byKid).
 */
export const OLD_VALUE_CHECKS: ReadonlySet<CheckName> = new Set([
  'audit_old_key_refused',
  'streams_old_key_refused',
  'gateway_old_key_refused',
  'admin_token_old_refused',
  'coordinator_token_old_refused',
  'postgres_login_old_refused',
  'redis_auth_old_refused',
]);

/** Checks that talk to Caracal's Postgres or Redis (logins, the KEK row count, Caracal's streams). */
export const DATASTORE_CHECKS: Readonly<Partial<Record<CheckName, 'postgres' | 'redis'>>> = {
  postgres_login_new: 'postgres',
  postgres_login_old_refused: 'postgres',
  kek_rows_on_new_kek: 'postgres',
  redis_auth_new: 'redis',
  redis_auth_old_refused: 'redis',
  audit_ingest: 'redis',
  revocation_propagation: 'redis',
};

export type WriterTarget = 'sts' | 'postgres' | 'redis';

/** One deployment of the orchestrator beside one Caracal. */
export interface Target {
  readonly name: string;
  readonly holders: HoldersConfig;
  readonly catalog: Catalog;
  /** The orchestrator's services it runs. */
  readonly services: readonly ServiceName[];
  /** Why the secret-writer cannot read and write Caracal's store. */
  writerStoreProblem(): string | undefined;
  /** Why Caracal does not have `file` in its store (a file of the secrets directory, a key of the runtime Secret). */
  fileProblem(file: string): string | undefined;
  /** Why `holders` do not read `<env>_PREVIOUS_FILE` from the store file `previousFile`. */
  previousProblem(env: string, previousFile: string, holders: readonly string[]): string | undefined;
  /** Why the bus key cannot be written where every one of the services reads it. */
  rotationStoreProblem(): string | undefined;
  /** Why the STS does not read STS_ADMIN_TOKEN from the store file `file`. */
  stsAdminTokenProblem(file: string): string | undefined;
  writerReachProblem(target: WriterTarget): string | undefined;
  /** Why the roller cannot restart a Caracal service through the holders file's adapter. */
  restartProblem(service: CaracalService): string | undefined;
  /** Why the verifier cannot reach a Caracal service at the holders file's URL. */
  verifierReachProblem(service: CaracalService): string | undefined;
  verifierDatastoreProblem(kind: 'postgres' | 'redis'): string | undefined;
  /** Why the verifier cannot read the values holders used before (the version history). */
  historyProblem(): string | undefined;
}

/** Every reason a rotation of `material` cannot run to the end in `t`; empty when it is wired. */
export function materialProblems(t: Target, material: Material): string[] {
  const entry = t.catalog.materials.find((m) => m.material === material);
  if (!entry) return ["not in the deployment's catalog"];
  const problems: string[] = [];
  const add = (what: string, problem: string | undefined) => {
    if (problem) problems.push(`${what}: ${problem}`);
  };
  const storeFile = (what: string, file: string) => add(`${what} ${file}`, t.fileProblem(file));

  switch (entry.writer) {
    case 'file':
      if (entry.store === 'rotation') {
        add('writer', t.rotationStoreProblem());
      } else {
        add('writer', t.writerStoreProblem());
        storeFile('file', entry.file!);
        if (entry.overlap === 'dual') {
          storeFile('file', `${entry.file}Previous`);
          add('previous', t.previousProblem(entry.env, `${entry.file}Previous`, entry.holders.map((h) => h.service)));
        }
      }
      break;
    case 'sts-zone-key':
      add('writer', t.writerStoreProblem());
      if (!t.holders.services.sts) problems.push('writer: the holders file lists no sts');
      if (!t.holders.zones) problems.push('writer: the holders file has no zones section');
      else {
        storeFile('zones.admin_token_file', t.holders.zones.admin_token_file);
        add('zones.admin_token_file', t.stsAdminTokenProblem(t.holders.zones.admin_token_file));
      }
      add('writer', t.writerReachProblem('sts'));
      break;
    case 'postgres-role':
      add('writer', t.writerStoreProblem());
      if (!t.holders.postgres) problems.push('writer: the holders file has no postgres section');
      else storeFile('postgres.admin_url_file', t.holders.postgres.admin_url_file);
      for (const role of Object.keys(entry.roles ?? {})) {
        storeFile('file', entry.file!.replace('{role}', role));
        for (const derived of entry.derived) storeFile('derived', derived.replace('{role}', role));
      }
      add('writer', t.writerReachProblem('postgres'));
      break;
    case 'redis-password':
      add('writer', t.writerStoreProblem());
      if (!t.holders.redis) problems.push('writer: the holders file has no redis section');
      else storeFile('redis.admin_url_file', t.holders.redis.admin_url_file);
      storeFile('file', entry.file!);
      for (const derived of entry.derived) storeFile('derived', derived);
      add('writer', t.writerReachProblem('redis'));
      break;
  }

  const steps = [...entry.holders, ...Object.values(entry.roles ?? {}).flatMap((r) => r.holders)];
  for (const { service } of steps) {
    if ((ORCHESTRATOR_SERVICES as readonly string[]).includes(service)) {
      if (!t.services.includes(service as ServiceName)) problems.push(`holder ${service}: the deployment does not run it`);
      continue;
    }
    const holder = t.holders.services[service as CaracalService];
    if (!holder) problems.push(`holder ${service}: not in the holders file`);
    else if (holder.restart.adapter === 'none') problems.push(`holder ${service}: never restarted (${holder.restart.why})`);
    else add(`holder ${service}`, t.restartProblem(service as CaracalService));
  }

  const checks = new Set<CheckName>([...(material === 'ROTATION_BUS_KEY' ? [] : BASELINE_CHECKS), ...entry.checks.deploy, ...entry.checks.retire]);
  for (const check of checks) {
    for (const need of CHECK_NEEDS[check]) {
      if ('service' in need) {
        if (!t.holders.services[need.service]) problems.push(`check ${check}: needs ${need.service} in the holders file`);
        else add(`check ${check}`, t.verifierReachProblem(need.service));
      } else if (!t.holders[need.section]) {
        problems.push(`check ${check}: needs the ${need.section} section of the holders file`);
      }
    }
    const datastore = DATASTORE_CHECKS[check];
    if (datastore) add(`check ${check}`, t.verifierDatastoreProblem(datastore));
    if (OLD_VALUE_CHECKS.has(check)) add(`check ${check}`, t.historyProblem());
  }
  if (checks.has('holders_ready')) {
    for (const service of Object.keys(t.holders.services) as CaracalService[]) add(`check holders_ready`, t.verifierReachProblem(service));
  }
  return [...new Set(problems)];
}

const hostPort = (url: string): { host: string; port: number } => {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port || (u.protocol === 'https:' ? 443 : 80)) };
};

// ---- deploy/compose beside `caracal up` ---------------------------------------------------------

export class ComposeTarget implements Target {
  readonly name = 'deploy/compose';
  readonly model = new ComposeModel();
  readonly holders = this.model.holders;
  /** No CARACAL_CATALOG by default: the built-in catalog. */
  readonly catalog = DEFAULT_CATALOG;
  readonly services = this.model.ours;

  writerStoreProblem() {
    const env = this.model.env('secret-writer');
    if (env.CARACAL_SECRET_STORE !== 'files') return `CARACAL_SECRET_STORE is ${env.CARACAL_SECRET_STORE ?? 'unset'}, not files`;
    const bind = this.model.bindOf('secret-writer', CARACAL_SECRETS_SOURCE);
    if (!bind || bind.target !== env.CARACAL_SECRETS_DIR) return "Caracal's secrets directory is not mounted at CARACAL_SECRETS_DIR";
    if (bind.read_only) return "Caracal's secrets directory is mounted read-only";
    return undefined;
  }

  fileProblem(file: string) {
    const added = Object.values(this.model.override.secrets ?? {}).map((s) => s.file?.split('/').pop());
    return (COMPOSE_SECRET_FILES as readonly string[]).includes(file) || added.includes(file) ? undefined : `no file ${file} in a caracal up secrets directory, and the KEK override adds none`;
  }

  previousProblem(env: string, previousFile: string, holders: readonly string[]) {
    const missing = holders.filter((h) => this.model.overrideSecretFile(h, `${env}_PREVIOUS_FILE`) !== previousFile);
    return missing.length ? `the KEK override does not give ${missing.join(', ')} ${env}_PREVIOUS_FILE from ${previousFile}` : undefined;
  }

  rotationStoreProblem() {
    const writerDir = this.model.env('secret-writer').CARACAL_ROTATION_DIR;
    const writer = this.model.bindOf('secret-writer', ROTATION_DIR_SOURCE);
    if (!writer || writer.target !== writerDir || writer.read_only) return "the secret-writer does not mount the orchestrator's directory read-write at CARACAL_ROTATION_DIR";
    const blind = this.services.filter((s) => this.model.bindOf(s, ROTATION_DIR_SOURCE)?.target !== this.model.env(s).CARACAL_ROTATION_DIR);
    return blind.length ? `${blind.join(', ')} do not see the writer's directory at CARACAL_ROTATION_DIR` : undefined;
  }

  stsAdminTokenProblem(file: string) {
    const sts = this.model.override.services.sts;
    if (!sts) return 'the KEK override does not change the sts service';
    if (this.model.overrideSecretFile('sts', 'STS_ADMIN_TOKEN_FILE') !== file) return `the KEK override does not give the STS STS_ADMIN_TOKEN_FILE from ${file}`;
    // Compose passes STS_ADMIN_TOKEN=${STS_ADMIN_TOKEN:-}: it must be empty for the STS to read the file.
    return composeEnv(sts).STS_ADMIN_TOKEN === '' ? undefined : 'the KEK override leaves STS_ADMIN_TOKEN as caracal.env sets it';
  }

  writerReachProblem(target: WriterTarget) {
    return this.model.onCaracalNetwork('secret-writer') ? undefined : `the secret-writer is not on ${CARACAL_COMPOSE_NETWORK}, where Caracal's ${target} is`;
  }

  restartProblem(service: CaracalService) {
    const restart = this.holders.services[service]!.restart;
    if (restart.adapter !== 'docker') return `restarted by ${restart.adapter}, not through the Docker Engine`;
    if (restart.container !== composeContainer(service)) return `container ${restart.container} is not ${composeContainer(service)}, the container caracal up runs`;
    const socket = this.model.bindOf('roller', DOCKER_SOCKET);
    if (!socket || socket.target !== restart.socket || socket.read_only) return `the roller has no writable ${restart.socket}`;
    if ((this.model.service('roller').group_add ?? []).length === 0) return "the roller is not in the socket's group";
    return undefined;
  }

  verifierReachProblem(service: CaracalService) {
    const { host, port } = hostPort(this.holders.services[service]!.url);
    if (host !== service || port !== CARACAL_PORTS[service]) return `URL ${this.holders.services[service]!.url} is not http://${service}:${CARACAL_PORTS[service]}`;
    return this.model.onCaracalNetwork('verifier') ? undefined : `the verifier is not on ${CARACAL_COMPOSE_NETWORK}`;
  }

  verifierDatastoreProblem(kind: 'postgres' | 'redis') {
    if (!this.model.onCaracalNetwork('verifier')) return `the verifier is not on ${CARACAL_COMPOSE_NETWORK}`;
    if (kind === 'redis' && this.model.env('verifier').CARACAL_REDIS_URL_FILE !== this.model.caracalFileIn('verifier', 'redisUrl')) {
      return "CARACAL_REDIS_URL_FILE is not Caracal's redisUrl";
    }
    return undefined;
  }

  historyProblem() {
    const env = this.model.env('verifier');
    const bind = this.model.bindOf('verifier', CARACAL_SECRETS_SOURCE);
    return bind && bind.target === env.CARACAL_SECRETS_DIR ? undefined : "the verifier does not mount Caracal's secrets directory (and its .history) at CARACAL_SECRETS_DIR";
  }
}

// ---- deploy/k8s/overlays/beside-helm beside Caracal's Helm release ----------------------------

interface CaracalValues {
  secrets?: { kekRotation?: boolean; stsAdminToken?: { secretName?: string; key?: string } };
  networkPolicy?: { extraIngress?: { from?: { podSelector?: LabelSelector; namespaceSelector?: LabelSelector }[]; ports?: { port: number }[] }[] };
}

export class HelmOverlayTarget implements Target {
  readonly name = OVERLAY;
  readonly rendered = new Rendered(kustomize(OVERLAY));
  readonly values = parse(repoFile(`${OVERLAY}/caracal-values.yaml`)) as CaracalValues;
  readonly holders: HoldersConfig;
  readonly catalog: Catalog;
  readonly services: ServiceName[];

  constructor() {
    this.holders = holdersConfigSchema.parse(JSON.parse(this.configMapFile('planner', 'CARACAL_HOLDERS')));
    this.catalog = parseCatalog(this.configMapFile('planner', 'CARACAL_CATALOG'), 'the catalog ConfigMap');
    this.services = this.rendered.deployments.map((d) => d.metadata.labels?.['app.kubernetes.io/component'] as ServiceName);
  }

  /** The content of the ConfigMap file a service's variable names (what the pod would read). */
  configMapFile(service: ServiceName, variable: string): string {
    const path = this.rendered.env(service)[variable];
    if (!path) throw new Error(`${service} has no ${variable}`);
    const found = this.rendered.mountAt(service, path);
    const name = found?.volume.configMap?.name;
    const map = this.rendered.ofKind<{ metadata: { name: string }; data: Record<string, string> } & Deployment>('ConfigMap').find((c) => c.metadata.name === name);
    const file = path.slice(found!.mount.mountPath.length + 1);
    if (!map?.data[file]) throw new Error(`${service}: ${variable}=${path} is in no rendered ConfigMap`);
    return map.data[file];
  }

  private caracalIngress(service: ServiceName, port: number): boolean {
    const labels = this.rendered.podLabels(service);
    return (this.values.networkPolicy?.extraIngress ?? []).some(
      (rule) => (rule.ports ?? []).some((p) => p.port === port) && (rule.from ?? []).some((peer) => peer.podSelector && !peer.namespaceSelector && selects(peer.podSelector, labels)),
    );
  }

  /** Why our service cannot open a connection to a Caracal service's pods (our egress, Caracal's ingress). */
  private reach(service: ServiceName, to: CaracalService): string | undefined {
    const port = CARACAL_PORTS[to];
    if (!this.rendered.egressToPod(service, helmPodLabels(HELM_RELEASE.name, to), port)) return `no egress from the ${service} to Caracal's ${to} pods on ${port}`;
    if (!this.caracalIngress(service, port)) return `caracal-values.yaml does not admit the ${service} to Caracal's pods on ${port}`;
    return undefined;
  }

  private apiServer(service: ServiceName): string | undefined {
    return this.rendered.egressToAddress(service, 443) || this.rendered.egressToAddress(service, 6443) ? undefined : `the ${service} has no egress to the API server`;
  }

  writerStoreProblem() {
    const env = this.rendered.env('secret-writer');
    if (env.CARACAL_SECRET_STORE !== 'kubernetes') return `CARACAL_SECRET_STORE is ${env.CARACAL_SECRET_STORE ?? 'unset'}, not kubernetes`;
    const runtime = env.CARACAL_K8S_SECRET ?? 'caracal-runtime';
    const history = env.CARACAL_K8S_HISTORY_SECRET ?? 'caracal-rotation-history';
    if (runtime !== HELM_RUNTIME_SECRET) return `CARACAL_K8S_SECRET is ${runtime}, not the chart's ${HELM_RUNTIME_SECRET}`;
    for (const secret of [runtime, history]) {
      for (const verb of ['get', 'patch']) if (!this.rendered.may('secret-writer', verb, '', 'secrets', secret)) return `may not ${verb} the Secret ${secret}`;
    }
    if (env.CARACAL_K8S_CREATE_HISTORY_SECRET !== 'false' && !this.rendered.may('secret-writer', 'create', '', 'secrets')) return 'may create the history Secret but is not allowed to';
    return this.apiServer('secret-writer');
  }

  fileProblem(file: string) {
    return (HELM_RUNTIME_KEYS as readonly string[]).includes(file) ? undefined : `no key ${file} in the chart's runtime Secret`;
  }

  previousProblem(env: string, _previousFile: string, holders: readonly string[]) {
    if (env !== 'SECRET_STORE_KEK') return `the chart wires no ${env}_PREVIOUS_FILE`;
    if (this.values.secrets?.kekRotation !== true) return 'caracal-values.yaml does not set secrets.kekRotation';
    const unwired = holders.filter((h) => h !== 'api' && h !== 'sts');
    return unwired.length ? `the chart wires SECRET_STORE_KEK_PREVIOUS_FILE into api and sts only, not ${unwired.join(', ')}` : undefined;
  }

  rotationStoreProblem() {
    return "the secret-writer's directory is a private copy of the bus key Secret: a new bus key would reach no other service";
  }

  stsAdminTokenProblem(file: string) {
    const token = this.values.secrets?.stsAdminToken;
    return token?.secretName === HELM_RUNTIME_SECRET && token.key === file ? undefined : `caracal-values.yaml does not point secrets.stsAdminToken at ${HELM_RUNTIME_SECRET}/${file}`;
  }

  writerReachProblem(target: WriterTarget) {
    if (target === 'sts') return this.reach('secret-writer', 'sts');
    const port = target === 'postgres' ? POSTGRES_PORT : REDIS_PORT;
    return this.rendered.egressToAddress('secret-writer', port) ? undefined : `no egress from the secret-writer to Caracal's ${target} on ${port}`;
  }

  restartProblem(service: CaracalService) {
    const restart = this.holders.services[service]!.restart;
    if (restart.adapter !== 'kubernetes') return `restarted by ${restart.adapter}, not through the API server`;
    const workload = helmWorkload(HELM_RELEASE.name, service);
    if (restart.kind !== workload.kind || restart.name !== workload.name) return `${restart.kind}/${restart.name} is not the chart's ${workload.kind}/${workload.name}`;
    if (restart.namespace !== HELM_RELEASE.namespace || this.rendered.deployment('roller').metadata.namespace !== restart.namespace) return `namespace ${restart.namespace} is not the roller's and the release's`;
    const resource = restart.kind === 'Deployment' ? 'deployments' : 'statefulsets';
    for (const verb of ['get', 'patch']) if (!this.rendered.may('roller', verb, 'apps', resource, restart.name)) return `the roller may not ${verb} ${resource}/${restart.name}`;
    if (!this.rendered.may('roller', 'list', '', 'pods')) return 'the roller may not list pods';
    return this.apiServer('roller') ?? this.reach('roller', service);
  }

  verifierReachProblem(service: CaracalService) {
    const { host, port } = hostPort(this.holders.services[service]!.url);
    const expected = helmServiceName(HELM_RELEASE.name, service);
    if (host !== expected || port !== CARACAL_PORTS[service]) return `URL ${this.holders.services[service]!.url} is not the chart's Service http://${expected}:${CARACAL_PORTS[service]}`;
    return this.reach('verifier', service);
  }

  verifierDatastoreProblem(kind: 'postgres' | 'redis') {
    const port = kind === 'postgres' ? POSTGRES_PORT : REDIS_PORT;
    if (!this.rendered.egressToAddress('verifier', port)) return `no egress from the verifier to Caracal's ${kind} on ${port}`;
    if (kind === 'redis') {
      const file = this.rendered.env('verifier').CARACAL_REDIS_URL_FILE;
      const found = file ? this.rendered.mountAt('verifier', file) : undefined;
      if (found?.volume.secret?.secretName !== HELM_RUNTIME_SECRET) return "CARACAL_REDIS_URL_FILE is not Caracal's redisUrl";
    }
    return undefined;
  }

  historyProblem() {
    return "the verifier reads old values from the files store's .history, and on Kubernetes the history is the Secret caracal-rotation-history, which it does not read";
  }
}
