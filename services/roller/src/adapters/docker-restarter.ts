import type { RestartAdapter } from '@caracal-rotation/contracts';
import { platformRequest, TransportError, type PlatformReply } from './platform-http.js';
import { dateNs, parseRfc3339Ns } from './rfc3339.js';
import { RestartError, remainingMs, sleep, type RestartRequest, type RestartResult, type Restarter } from './restarter.js';

type DockerTarget = Extract<RestartAdapter, { adapter: 'docker' }>;

/**
 * Restarts a container through the Docker Engine API on its unix socket
 * (`POST /containers/{id}/restart?t=…`: SIGTERM, SIGKILL after t seconds,
 * start again) and proves it with `GET /containers/{id}/json`: State.StartedAt
 * later than before the restart and than the write, and State.Running.
 *
 * The roller needs the socket mounted and its user allowed on it (the docker
 * group, or root): that is root-equivalent on the host, so mount it only where
 * the holders file names docker holders.
 */

/** The newest Engine API version this client speaks; the daemon's own is used when older (version negotiation). */
export const DOCKER_CLIENT_API_VERSION = '1.45';
/** Longest single exchange besides the restart itself. */
const CALL_TIMEOUT_MS = 10_000;

interface ContainerState {
  Status?: string;
  Running?: boolean;
  Restarting?: boolean;
  Pid?: number;
  ExitCode?: number;
  Error?: string;
  StartedAt?: string;
  FinishedAt?: string;
}
interface ContainerInspect {
  Id?: string;
  Name?: string;
  State?: ContainerState;
}

function olderVersion(a: string, b: string): string {
  const [am, an] = a.split('.').map(Number) as [number, number];
  const [bm, bn] = b.split('.').map(Number) as [number, number];
  return am < bm || (am === bm && an <= bn) ? a : b;
}

function engineMessage(reply: PlatformReply): string {
  try {
    const parsed = JSON.parse(reply.text) as { message?: unknown };
    if (typeof parsed.message === 'string') return parsed.message.slice(0, 300);
  } catch {
    // not JSON: fall through
  }
  return reply.text.trim().slice(0, 300) || `HTTP ${reply.status}`;
}

const identity = (s: ContainerState | undefined): string => `StartedAt=${s?.StartedAt ?? '?'} Pid=${s?.Pid ?? '?'} Status=${s?.Status ?? '?'}`;

export function dockerRestarter(target: DockerTarget, opts: { pollMs?: number } = {}): Restarter {
  const pollMs = opts.pollMs ?? 250;
  const container = target.container;
  const name = `docker container ${container}`;
  const ref = encodeURIComponent(container);
  let apiPrefix: string | undefined;

  async function engine(method: string, path: string, timeoutMs: number, what: string): Promise<PlatformReply> {
    try {
      return await platformRequest({ method, url: `${apiPrefix ?? ''}${path}`, socketPath: target.socket, timeoutMs });
    } catch (err) {
      if (!(err instanceof TransportError)) throw err;
      switch (err.code) {
        case 'ENOENT':
          throw new RestartError(`${what}: the Docker Engine socket ${target.socket} does not exist (is Docker running, and is its socket mounted into the roller?)`, 'unreachable');
        case 'EACCES':
        case 'EPERM':
          throw new RestartError(`${what}: permission denied on the Docker Engine socket ${target.socket} (the roller's user must be allowed on it, e.g. the docker group)`, 'config');
        case 'ECONNREFUSED':
          throw new RestartError(`${what}: nothing answers on the Docker Engine socket ${target.socket} (connection refused)`, 'unreachable');
        case 'TIMEOUT':
          throw new RestartError(`${what}: the Docker Engine did not answer within ${timeoutMs} ms`, 'timeout');
        default:
          throw new RestartError(`${what}: the Docker Engine socket ${target.socket} failed: ${err.code} ${err.message}`.slice(0, 400), 'unreachable');
      }
    }
  }

  /** Version negotiation, as Docker's clients do it: the older of ours and the daemon's. */
  async function negotiate(deadline: number): Promise<void> {
    if (apiPrefix !== undefined) return;
    const ping = await engine('GET', '/_ping', Math.min(CALL_TIMEOUT_MS, remainingMs(deadline)), `ping ${name}`);
    if (ping.status !== 200) throw new RestartError(`ping ${name}: the Docker Engine answered ${ping.status} (${engineMessage(ping)})`, 'unreachable');
    const daemon = ping.headers['api-version'];
    apiPrefix = typeof daemon === 'string' && /^\d+\.\d+$/.test(daemon) ? `/v${olderVersion(daemon, DOCKER_CLIENT_API_VERSION)}` : '';
  }

  async function inspect(deadline: number, proof?: { before: string | null; after: string | null }): Promise<ContainerInspect> {
    const reply = await engine('GET', `/containers/${ref}/json`, Math.min(CALL_TIMEOUT_MS, remainingMs(deadline)), `inspect ${name}`);
    if (reply.status === 404) throw new RestartError(`${name}: no such container (Docker answered: ${engineMessage(reply)})`, 'not_found', proof);
    if (reply.status !== 200) throw new RestartError(`inspect ${name}: the Docker Engine answered ${reply.status} (${engineMessage(reply)})`, 'refused', proof);
    try {
      return JSON.parse(reply.text) as ContainerInspect;
    } catch {
      throw new RestartError(`inspect ${name}: the Docker Engine answered with a body that is not JSON`, 'refused', proof);
    }
  }

  async function restartAndProve({ writtenAt, deadline }: RestartRequest): Promise<RestartResult> {
    await negotiate(deadline);
    const before = (await inspect(deadline)).State;
    const beforeText = identity(before);
    const beforeNs = parseRfc3339Ns(before?.StartedAt ?? '') ?? -1n;

    // Docker answers the restart once the container has been stopped and started again.
    const restart = await engine('POST', `/containers/${ref}/restart?t=${target.stop_timeout_s}`, remainingMs(deadline), `restart ${name}`);
    if (restart.status === 404) throw new RestartError(`${name}: no such container (Docker answered: ${engineMessage(restart)})`, 'not_found', { before: beforeText, after: null });
    if (restart.status !== 204) {
      throw new RestartError(`restart ${name}: the Docker Engine answered ${restart.status} (${engineMessage(restart)})`, 'refused', { before: beforeText, after: null });
    }

    const writtenNs = dateNs(writtenAt);
    let after: ContainerState | undefined;
    let lastError = '';
    for (;;) {
      try {
        after = (await inspect(deadline, { before: beforeText, after: null })).State ?? {};
        lastError = '';
      } catch (err) {
        // A slow answer near the deadline must not hide what the last inspection showed.
        if (!(err instanceof RestartError) || (err.code !== 'timeout' && err.code !== 'unreachable')) throw err;
        lastError = err.message;
      }
      const startedNs = parseRfc3339Ns(after?.StartedAt ?? '');
      const restarted = startedNs !== null && startedNs > beforeNs && startedNs > writtenNs;
      if (after && restarted && after.Running && !after.Restarting) {
        return {
          restartedAt: after.StartedAt!,
          proof: {
            before: beforeText,
            after: identity(after),
            detail: `State.StartedAt ${after.StartedAt} is later than the previous start ${before?.StartedAt ?? '(none)'} and than the write at ${writtenAt.toISOString()}; State.Running`,
          },
        };
      }
      // Exited (not Restarting) means no restart policy will bring it back: waiting is pointless.
      const gaveUp = restarted && (after?.Status === 'exited' || after?.Status === 'dead');
      if (gaveUp || remainingMs(deadline) <= pollMs) {
        if (!after) throw new RestartError(`${name}: the container could not be inspected after the restart (${lastError})`, 'timeout', { before: beforeText, after: null });
        const proof = { before: beforeText, after: identity(after) };
        if (!restarted) {
          const why =
            startedNs !== null && startedNs > beforeNs
              ? `State.StartedAt ${after.StartedAt} is not later than the write at ${writtenAt.toISOString()}`
              : `State.StartedAt is still ${after.StartedAt ?? '(missing)'}`;
          throw new RestartError(`${name}: Docker accepted the restart, but ${why}: the container did not restart after the write`, 'not_restarted', proof);
        }
        const exit = `Status ${after.Status ?? '?'}, ExitCode ${after.ExitCode ?? '?'}${after.Error ? `, Error "${after.Error.slice(0, 200)}"` : ''}, FinishedAt ${after.FinishedAt ?? '?'}`;
        throw new RestartError(`${name} restarted at ${after.StartedAt} but did not stay running: ${exit}`, 'not_running', proof);
      }
      await sleep(pollMs);
    }
  }

  return { adapter: 'docker', target: name, restartAndProve };
}
