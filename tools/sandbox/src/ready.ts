/** The line `caracal-sandbox up` prints on stdout once everything is ready. */
export interface SandboxReady {
  state: 'ready';
  /** The secrets directory in Caracal's layout. */
  secrets_dir: string;
  /** The holders file (libs/contracts holders v2) written for this sandbox. */
  holders: string;
  /** The secrets-dir file holding Caracal's Redis URL (`redisUrl`). */
  redis_url_file: string;
  /** The Docker Engine API socket the services run behind. */
  docker_socket: string;
  /** Base URL of each service. */
  services: { api: string; sts: string; gateway: string; audit: string; coordinator: string };
  /** The zones seeded through POST /v1/zones (not the reserved system zone). */
  zones: string[];
  postgres: {
    /** The secrets-dir file holding the admin role's database URL (`databaseUrl`). */
    admin_url_file: string;
  };
}

export function parseReadyLine(line: string): SandboxReady | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return undefined;
  }
  const r = parsed as Partial<SandboxReady> | null;
  return r && r.state === 'ready' && typeof r.secrets_dir === 'string' && r.services ? (r as SandboxReady) : undefined;
}
