/** deploy/compose as data: the services, their mounts and networks, the holders file, Caracal's KEK override. */
import { holdersConfigSchema, type HoldersConfig } from '@caracal-rotation/contracts';
import { parse } from 'yaml';
import { SERVICES, type ServiceName, composeEnv, loadCompose, repoFile } from './support.js';

export const COMPOSE_DIR = 'deploy/compose';

export interface BindMount {
  type: string;
  source: string;
  target: string;
  read_only: boolean;
}

export type ComposeService = Record<string, unknown> & {
  image?: string;
  command?: string[];
  entrypoint?: string[];
  profiles?: string[];
  ports?: string[];
  volumes?: (string | Partial<BindMount>)[];
  configs?: { source: string; target?: string }[];
  secrets?: { source: string; target?: string }[];
  healthcheck?: { test?: string[] | string; disable?: boolean };
  depends_on?: Record<string, { condition?: string; required?: boolean }>;
  networks?: string[] | Record<string, unknown>;
  network_mode?: string;
  user?: string;
  group_add?: string[];
  read_only?: boolean;
  cap_drop?: string[];
  security_opt?: string[];
  environment?: Record<string, unknown> | string[];
};

export interface ComposeFile {
  name?: string;
  services: Record<string, ComposeService>;
  networks?: Record<string, { external?: boolean; name?: string; internal?: boolean }>;
  volumes?: Record<string, unknown>;
  configs?: Record<string, { file?: string; content?: string }>;
  secrets?: Record<string, { file?: string }>;
}

/** A compose interpolation such as `${CARACAL_HOME:?message}/secrets` with the message left out: `${CARACAL_HOME}/secrets`. */
export const withoutMessages = (value: string): string => value.replace(/\$\{([A-Z_][A-Z0-9_]*)(?::?[?-][^}]*)?\}/g, '$${$1}');

export const CARACAL_SECRETS_SOURCE = '${CARACAL_HOME}/secrets';
export const ROTATION_DIR_SOURCE = '${CARACAL_HOME}/rotation';
export const DOCKER_SOCKET = '/var/run/docker.sock';

export class ComposeModel {
  readonly file: ComposeFile;
  readonly holders: HoldersConfig;
  /** Caracal's project, as the KEK override adds to it. */
  readonly override: ComposeFile;

  constructor() {
    this.file = loadCompose(`${COMPOSE_DIR}/compose.yaml`) as unknown as ComposeFile;
    const holdersFile = this.file.configs?.holders?.file;
    if (!holdersFile) throw new Error('compose.yaml has no holders config file');
    this.holders = holdersConfigSchema.parse(JSON.parse(repoFile(`${COMPOSE_DIR}/${holdersFile.replace(/^\.\//, '')}`)));
    this.override = parse(repoFile(`${COMPOSE_DIR}/caracal-kek-override.yaml`), { merge: true }) as ComposeFile;
  }

  service(name: string): ComposeService {
    const s = this.file.services[name];
    if (!s) throw new Error(`compose has no service ${name}`);
    return s;
  }

  /** Our five services: those whose command runs one of them. */
  get ours(): ServiceName[] {
    return SERVICES.filter((name) => this.file.services[name]?.command?.[0] === `services/${name}/dist/main.js`);
  }

  env(name: string): Record<string, string> {
    return composeEnv(this.service(name));
  }

  /** Bind mounts, in the long syntax this file uses, with interpolation messages left out. */
  binds(name: string): BindMount[] {
    return (this.service(name).volumes ?? [])
      .filter((v): v is Partial<BindMount> => typeof v === 'object' && v.type === 'bind')
      .map((v) => ({ type: 'bind', source: withoutMessages(String(v.source)), target: String(v.target), read_only: v.read_only === true }));
  }

  /** The bind mount of a host path, if the service has one. */
  bindOf(name: string, source: string): BindMount | undefined {
    return this.binds(name).find((b) => b.source === source);
  }

  networks(name: string): string[] {
    const n = this.service(name).networks;
    return Array.isArray(n) ? n : Object.keys(n ?? {});
  }

  /** Whether a service is on Caracal's network (the project's network that is caracalData, external). */
  onCaracalNetwork(name: string): boolean {
    return this.networks(name).some((key) => this.file.networks?.[key]?.external === true && this.file.networks[key]?.name === 'caracalData');
  }

  /** The file the service's CARACAL_HOLDERS names, when a config holding the holders file is mounted there. */
  holdersMounted(name: string): boolean {
    const target = this.env(name).CARACAL_HOLDERS;
    return target !== undefined && (this.service(name).configs ?? []).some((c) => c.source === 'holders' && c.target === target);
  }

  /** A file of Caracal's secrets directory as the service sees it, when the directory is mounted at CARACAL_SECRETS_DIR. */
  caracalFileIn(name: string, file: string): string | undefined {
    const dir = this.env(name).CARACAL_SECRETS_DIR;
    const bind = this.bindOf(name, CARACAL_SECRETS_SOURCE);
    return dir && bind?.target === dir ? `${dir}/${file}` : undefined;
  }

  /** In Caracal's project with the override: the store file a service's `/run/secrets/<target>` comes from. */
  overrideSecretFile(service: string, envName: string): string | undefined {
    const s = this.override.services[service];
    const path = composeEnv(s ?? {})[envName];
    const target = path?.replace(/^\/run\/secrets\//, '');
    const ref = s?.secrets?.find((x) => (x.target ?? x.source) === target);
    const file = ref ? this.override.secrets?.[ref.source]?.file : undefined;
    return file ? file.split('/').pop() : undefined;
  }
}
