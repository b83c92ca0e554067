import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { restartAdapterSchema } from '@caracal-rotation/contracts';
import { afterAll, describe, expect, it } from 'vitest';
import { execRestarter } from './exec-restarter.js';
import type { RestartError } from './restarter.js';
import { readSystemdProperties } from './systemd-proof.js';

const node = process.execPath;
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/**
 * A stand-in for a unit under a supervisor: a state file that `show` prints
 * the way `systemctl show -p MainPID,ExecMainStartTimestamp --timestamp=unix`
 * does, and a `restart` that gives the unit a new pid and start time.
 */
function unit(initial = { pid: 4242, startedAt: Math.floor(Date.now() / 1000) - 3600 }) {
  const dir = mkdtempSync(path.join(tmpdir(), 'exec-restarter-'));
  dirs.push(dir);
  const state = path.join(dir, 'state');
  const write = (pid: number, startedAt: number | '') => writeFileSync(state, `MainPID=${pid}\nExecMainStartTimestamp=${startedAt === '' ? '' : `@${startedAt}`}\n`);
  write(initial.pid, initial.startedAt);
  const setState = (pidExpr: string, startExpr: string) =>
    `require('node:fs').writeFileSync(${JSON.stringify(state)}, 'MainPID=' + (${pidExpr}) + '\\nExecMainStartTimestamp=' + (${startExpr}) + '\\n')`;
  return {
    state,
    write,
    show: ['cat', state],
    /** Restarts at once: a new pid, started now. */
    restart: [node, '-e', setState('process.pid', "'@' + Math.floor(Date.now() / 1000)")],
    /** Returns at once; the new process comes up a little later (an asynchronous supervisor). */
    restartLater: [
      node,
      '-e',
      `require('node:child_process').spawn(process.execPath, ['-e', ${JSON.stringify(`setTimeout(() => { ${setState('process.pid', "'@' + Math.floor(Date.now() / 1000)")} }, 150)`)}], { detached: true, stdio: 'ignore' }).unref()`,
    ],
    /** The unit fails to start: no main process. */
    restartDead: [node, '-e', setState('0', "''")],
    /** A new pid, but a start time from before (a restart that happened earlier). */
    restartStale: [node, '-e', setState('process.pid', "'@' + (Math.floor(Date.now() / 1000) - 600)")],
  };
}

function target(command: string[], proof: string[], extra: Record<string, unknown> = {}) {
  const parsed = restartAdapterSchema.parse({ adapter: 'exec', command, proof, ...extra });
  if (parsed.adapter !== 'exec') throw new Error('not an exec target');
  return parsed;
}
const soon = (ms = 10_000) => Date.now() + ms;
const failure = (p: Promise<unknown>) => p.then(() => expect.fail('expected a RestartError'), (e: unknown) => e as RestartError);

describe('the exec restart adapter', () => {
  it('runs the restart command and proves it by a changed proof output with a later start', async () => {
    const u = unit();
    const before = readFileSync(u.state, 'utf8').trim();
    const writtenAt = new Date();
    const result = await execRestarter(target(u.restart, u.show), { pollMs: 20 }).restartAndProve({ writtenAt, deadline: soon() });
    const after = readFileSync(u.state, 'utf8').trim();
    expect(after).not.toBe(before);
    expect(result.proof).toEqual({ before, after, detail: expect.stringMatching(/^the proof output changed across the restart; ExecMainStartTimestamp=@\d+, MainPID=\d+$/) });
    const started = Number(/@(\d+)/.exec(after)![1]) * 1000;
    expect(result.restartedAt).toBe(new Date(started).toISOString());
  });

  it('waits for the proof to change when the command returns before the new process is up', async () => {
    const u = unit();
    const result = await execRestarter(target(u.restartLater, u.show), { pollMs: 20 }).restartAndProve({ writtenAt: new Date(), deadline: soon() });
    expect(result.proof.before).not.toBe(result.proof.after);
    expect(readFileSync(u.state, 'utf8').trim()).toBe(result.proof.after);
  });

  it('fails when the proof output does not change', async () => {
    const u = unit();
    const err = await failure(execRestarter(target(['true'], u.show), { pollMs: 20 }).restartAndProve({ writtenAt: new Date(), deadline: soon(1_500) }));
    expect(err.code).toBe('not_restarted');
    expect(err.message).toMatch(/^exec true: the command succeeded but the proof output did not change \(still "MainPID=4242\nExecMainStartTimestamp=@\d+"\): no restart is proven$/);
    expect(err.proof?.before).toBe(err.proof?.after);
  });

  it('fails when the unit has no main process after the restart', async () => {
    const u = unit();
    const err = await failure(execRestarter(target(u.restartDead, u.show), { pollMs: 20 }).restartAndProve({ writtenAt: new Date(), deadline: soon(1_500) }));
    expect(err.code).toBe('not_running');
    expect(err.message).toContain('the proof changed but MainPID=0: the unit has no main process');
  });

  it('fails when the new start is before the write', async () => {
    const u = unit();
    const writtenAt = new Date();
    const err = await failure(execRestarter(target(u.restartStale, u.show), { pollMs: 20 }).restartAndProve({ writtenAt, deadline: soon(1_500) }));
    expect(err.code).toBe('not_restarted');
    expect(err.message).toMatch(new RegExp(`ExecMainStartTimestamp=@\\d+ is before the write at ${writtenAt.toISOString().replace(/\./g, '\\.')}$`));
  });

  it('reports a refused restart with its exit code and stderr, never a secret it printed', async () => {
    const u = unit();
    const secret = 'ab12'.repeat(16);
    const refuse = [node, '-e', `console.error('Failed to restart caracal-gateway.service: Access denied; key ${secret}'); process.exit(4)`];
    const err = await failure(execRestarter(target(refuse, u.show)).restartAndProve({ writtenAt: new Date(), deadline: soon() }));
    expect(err.code).toBe('refused');
    expect(err.message).toMatch(/^restart command \S+ -e .* exited with 4: Failed to restart caracal-gateway\.service: Access denied; key \[hex sha256:[0-9a-f]{12}\]$/);
    expect(err.message).not.toContain(secret);
    expect(err.proof?.before).toBe(readFileSync(u.state, 'utf8').trim());
  });

  it('kills a restart command that outlives its timeout', async () => {
    const u = unit();
    const err = await failure(execRestarter(target([node, '-e', 'setTimeout(() => {}, 60000)'], u.show, { timeout_ms: 200 })).restartAndProve({ writtenAt: new Date(), deadline: soon() }));
    expect(err.code).toBe('timeout');
    expect(err.message).toContain('timed out after 200 ms and was killed');
  });

  it('says so when a command cannot be run at all, or the proof fails before the restart', async () => {
    const u = unit();
    const missing = await failure(execRestarter(target(['/nonexistent/systemctl', 'restart', 'x'], u.show)).restartAndProve({ writtenAt: new Date(), deadline: soon() }));
    expect(missing.code).toBe('config');
    expect(missing.message).toBe('restart command /nonexistent/systemctl restart x cannot be run (ENOENT)');

    const badProof = [node, '-e', "console.error('Unit caracal-gateway.service could not be found.'); process.exit(1)"];
    const proofFails = await failure(execRestarter(target(u.restart, badProof)).restartAndProve({ writtenAt: new Date(), deadline: soon() }));
    expect(proofFails.code).toBe('refused');
    expect(proofFails.message).toMatch(/\(before the restart\) exited with 1: Unit caracal-gateway\.service could not be found\.$/);
    // Nothing was restarted: the proof comes first.
    expect(readFileSync(u.state, 'utf8')).toContain('MainPID=4242');
  });
});

describe('systemctl show output', () => {
  it('reads MainPID and ExecMainStartTimestamp in UTC, unix and offset forms', () => {
    expect(readSystemdProperties('MainPID=812\nExecMainStartTimestamp=Tue 2026-05-05 10:00:01 UTC\n')).toEqual({
      mainPid: 812,
      startText: 'Tue 2026-05-05 10:00:01 UTC',
      startNs: BigInt(Date.parse('2026-05-05T10:00:01Z')) * 1_000_000n,
    });
    expect(readSystemdProperties('ExecMainStartTimestamp=@1778000000.5').startNs).toBe(1_778_000_000_500_000_000n);
    expect(readSystemdProperties('ExecMainStartTimestamp=Tue 2026-05-05 12:00:01.000250 +0200').startNs).toBe(BigInt(Date.parse('2026-05-05T10:00:01Z')) * 1_000_000n + 250_000n);
  });

  it('does not guess a local zone name', () => {
    const props = readSystemdProperties('MainPID=812\nExecMainStartTimestamp=Tue 2026-05-05 12:00:01 CEST');
    expect(props.startText).toBe('Tue 2026-05-05 12:00:01 CEST');
    expect(props.startNs).toBeUndefined();
  });
});
