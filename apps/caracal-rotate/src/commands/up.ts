import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXIT, UsageError, requireServers } from '../environment.js';
import { assertBusKey } from '../operator.js';
import { ensureSandboxSecrets, startStack, type Stack } from '@caracal-rotation/stack';
import { flag, secondsFlag, type Command } from './command.js';

/** Resolves on SIGINT/SIGTERM, or when a service exits on its own (a supervisor must not hide that). */
function untilStopped(stack: Stack): Promise<string> {
  return new Promise((resolve) => {
    const done = (why: string) => {
      clearInterval(timer);
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      resolve(why);
    };
    const onInt = () => done('SIGINT');
    const onTerm = () => done('SIGTERM');
    process.once('SIGINT', onInt);
    process.once('SIGTERM', onTerm);
    const timer = setInterval(() => {
      const dead = stack.services.find((s) => !s.running);
      if (dead) done(`${dead.instance} exited`);
    }, 1000);
  });
}

export const upCommand: Command = {
  name: 'up',
  summary: 'run the five services (with --sandbox, the sandbox fleet too) until Ctrl-C',
  usage: 'up [--sandbox [--window SECONDS]]',
  details: `Runs the planner, secret-writer, roller, verifier and recorder as processes in the
foreground, prints their URLs (/health, /ready, /metrics), and stops them gracefully on
SIGINT or SIGTERM (in-flight work finishes first).

With --sandbox it also starts the stand-in Caracal fleet (API, STS, Gateway, Audit,
Coordinator, console), creates any missing secret in the secrets directory (as
\`caracal up\` does; existing files are never touched) and, unless CARACAL_CATALOG is set,
uses the sandbox catalog, whose safety windows are --window seconds (default 10).
Without --sandbox, CARACAL_HOLDERS must name the holders file (where Caracal's services
run and how to restart them) and the secrets directory must hold streamsHmacKey.

Examples:
  caracal-rotate up --sandbox
  CARACAL_SECRETS_DIR=/run/caracal/secrets CARACAL_HOLDERS=/etc/caracal/holders.json caracal-rotate up`,
  options: { sandbox: { type: 'boolean' }, window: { type: 'string' } },
  positionals: [],
  required: 0,
  async run({ out, env, values }) {
    const sandbox = flag(values, 'sandbox');
    const windowMs = secondsFlag(values, 'window', 10);
    await requireServers(env);
    const holdersPath = process.env.CARACAL_HOLDERS || undefined;
    let created: string[] = [];
    if (sandbox) created = await ensureSandboxSecrets(env.secretsDir);
    else {
      if (!holdersPath) {
        throw new UsageError('without --sandbox, set CARACAL_HOLDERS to the holders file (where Caracal\'s services run and how to restart them), or run caracal-rotate up --sandbox', EXIT.usage);
      }
      await assertBusKey(env);
    }
    const runDir = await mkdtemp(join(tmpdir(), 'caracal-rotate-up-'));
    out.line(`starting the five services${sandbox ? ' and the sandbox fleet' : ''} …`);
    const stack = await startStack({
      ...env,
      runDir,
      sandbox: sandbox ? { basePort: 'ephemeral', namespace: env.caracalNamespace ?? '' } : false,
      sandboxWindowMs: windowMs,
      holdersPath,
      logLevel: process.env.LOG_LEVEL ?? 'info',
    });
    const services = stack.services.map((s) => ({ name: s.name, instance: s.instance, url: s.url, pid: s.pid ?? null }));
    const fleet = stack.fleet
      ? { namespace: stack.fleet.namespace, control_url: stack.fleet.controlUrl, members: Object.fromEntries(Object.entries(stack.fleet.members).map(([n, m]) => [n, m!.url])) }
      : null;
    out.line('running; Ctrl-C (SIGINT) or SIGTERM stops everything gracefully');
    out.line('services (/health /ready /metrics):');
    for (const s of services) out.line(`  ${s.instance.padEnd(16)} ${s.url}`);
    if (fleet) {
      out.line(`sandbox fleet${fleet.namespace ? ` (namespace ${fleet.namespace})` : ''}:`);
      for (const [name, url] of Object.entries(fleet.members)) out.line(`  ${name.padEnd(16)} ${url}`);
      out.line(`  ${'control'.padEnd(16)} ${fleet.control_url}`);
    }
    out.line(`secrets   ${env.secretsDir}${created.length ? ` (created ${created.join(', ')})` : ''}`);
    out.line(`catalog   ${stack.catalogPath ?? 'built-in'}${sandbox && !env.catalogPath ? ` (sandbox: safety windows ${windowMs / 1000}s)` : ''}`);
    out.line(`holders   ${stack.holdersPath ?? '-'}`);
    if (stack.catalogPath && stack.catalogPath !== env.catalogPath) out.line(`          (for plan and catalog in another shell: export CARACAL_CATALOG=${stack.catalogPath})`);
    out.line(`logs      ${join(runDir, 'logs')}`);
    out.line(`try       caracal-rotate request AUDIT_HMAC_KEY --reason "first rotation" --wait`);
    out.result({
      state: 'running',
      services,
      fleet,
      secrets_dir: env.secretsDir,
      created_secrets: created,
      catalog: stack.catalogPath ?? null,
      holders: stack.holdersPath ?? null,
      logs: join(runDir, 'logs'),
    });
    const why = await untilStopped(stack);
    const crashed = why.endsWith('exited');
    if (crashed) out.error(`${why} unexpectedly; see ${join(runDir, 'logs')}. Stopping the others.`, EXIT.failed);
    out.line(`${why}: stopping gracefully …`);
    await stack.stop();
    out.line('stopped.');
    return crashed ? EXIT.failed : EXIT.ok;
  },
};
