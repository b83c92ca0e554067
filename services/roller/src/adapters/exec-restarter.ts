import type { RestartAdapter } from '@caracal-rotation/contracts';
import { commandFailure, presentable, runCommand } from './command.js';
import { RestartError, remainingMs, sleep, type RestartRequest, type RestartResult, type Restarter } from './restarter.js';
import { wholeSecondNs } from './rfc3339.js';
import { readSystemdProperties } from './systemd-proof.js';

type ExecTarget = Extract<RestartAdapter, { adapter: 'exec' }>;

/**
 * Restarts with any command (no shell), and proves it with a second command
 * whose output identifies the running process: the output must change across
 * the restart. For systemd:
 *
 *   "command": ["systemctl", "restart", "caracal-gateway"],
 *   "proof":   ["systemctl", "show", "--timestamp=utc", "-p", "MainPID,ExecMainStartTimestamp", "caracal-gateway"]
 *
 * When the proof prints MainPID and ExecMainStartTimestamp, they are checked
 * too: a main process (MainPID is not 0) that started after the write.
 */

/** Longest single run of the proof command. */
const PROOF_TIMEOUT_MS = 10_000;
const PROOF_CHARS = 500;

const shown = (argv: readonly string[]) => presentable(argv.join(' '), 200);

export function execRestarter(target: ExecTarget, opts: { pollMs?: number } = {}): Restarter {
  const pollMs = opts.pollMs ?? 500;
  const name = `exec ${shown(target.command)}`;

  async function proof(deadline: number, when: string): Promise<string> {
    const timeoutMs = Math.min(PROOF_TIMEOUT_MS, remainingMs(deadline));
    if (timeoutMs <= 0) throw new RestartError(`proof command ${shown(target.proof)} (${when}): the deadline passed`, 'timeout');
    const result = await runCommand(target.proof, timeoutMs);
    const failed = commandFailure(result, timeoutMs);
    if (failed) throw new RestartError(`proof command ${shown(target.proof)} (${when}) ${failed}`, result.spawnError ? 'config' : result.timedOut ? 'timeout' : 'refused');
    return result.stdout.trim();
  }

  /** Why the changed output still does not prove a restart after the write, if it does not. */
  function systemdObjection(output: string, writtenAt: Date): { why: string; code: 'not_running' | 'not_restarted' } | undefined {
    const props = readSystemdProperties(output);
    if (props.mainPid === 0) return { why: 'MainPID=0: the unit has no main process', code: 'not_running' };
    if (props.startText !== undefined && props.startText === '') return { why: 'ExecMainStartTimestamp is empty: the unit has not started', code: 'not_running' };
    if (props.startNs !== undefined && props.startNs < wholeSecondNs(writtenAt)) {
      return { why: `ExecMainStartTimestamp=${props.startText} is before the write at ${writtenAt.toISOString()}`, code: 'not_restarted' };
    }
    return undefined;
  }

  async function restartAndProve({ writtenAt, deadline }: RestartRequest): Promise<RestartResult> {
    const before = await proof(deadline, 'before the restart');
    const beforeShown = presentable(before, PROOF_CHARS);

    const timeoutMs = Math.min(target.timeout_ms, remainingMs(deadline));
    const restart = await runCommand(target.command, timeoutMs);
    const failed = commandFailure(restart, timeoutMs);
    if (failed) {
      const code = restart.spawnError ? 'config' : restart.timedOut ? 'timeout' : 'refused';
      throw new RestartError(`restart command ${shown(target.command)} ${failed}`, code, { before: beforeShown, after: null });
    }
    const commandDoneAt = new Date().toISOString();

    // Some commands return before the new process is up (an asynchronous supervisor): poll the proof.
    let after = before;
    for (;;) {
      try {
        after = await proof(deadline, 'after the restart');
      } catch (err) {
        if (!(err instanceof RestartError) || err.code !== 'timeout') throw err;
      }
      const changed = after !== before;
      const objection = changed ? systemdObjection(after, writtenAt) : undefined;
      if (changed && !objection) {
        const props = readSystemdProperties(after);
        const systemd = props.startText ? `; ExecMainStartTimestamp=${props.startText}${props.startNs === undefined ? ' (zone not checked: use --timestamp=utc)' : ''}, MainPID=${props.mainPid ?? '?'}` : '';
        return {
          // systemd's own start time when it could be read; else when the restart command returned.
          restartedAt: props.startNs !== undefined ? new Date(Number(props.startNs / 1_000_000n)).toISOString() : commandDoneAt,
          proof: { before: beforeShown, after: presentable(after, PROOF_CHARS), detail: `the proof output changed across the restart${systemd}` },
        };
      }
      if (remainingMs(deadline) <= pollMs) {
        const proofSeen = { before: beforeShown, after: presentable(after, PROOF_CHARS) };
        if (objection) throw new RestartError(`${name}: the proof changed but ${objection.why}`, objection.code, proofSeen);
        throw new RestartError(`${name}: the command succeeded but the proof output did not change (still "${proofSeen.after}"): no restart is proven`, 'not_restarted', proofSeen);
      }
      await sleep(pollMs);
    }
  }

  return { adapter: 'exec', target: name, restartAndProve };
}
