/**
 * `npm run demo`: a replica of Caracal (the sandbox), the orchestrator's five
 * services, and every material rotated one after another through the
 * operator's own command, `caracal-rotate request … --wait`, whose progress
 * is shown as is; then the history the recorder wrote to Postgres.
 */
import { spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_DATABASE_URL, DEFAULT_REDIS_URL } from '@caracal-rotation/config';
import { PROJECT_ROOT, startStack } from '../stack.js';

// From the project root: this file runs bundled as dist/demo.js, one directory less deep than its source.
const CLI = join(PROJECT_ROOT, 'apps', 'caracal-rotate', 'bin', 'caracal-rotate.js');

/** What the demo rotates, in order: every material of the catalog. */
export const DEMO_REQUESTS: { material: string; args: string[]; title: string }[] = [
  { material: 'AUDIT_HMAC_KEY', args: [], title: 'AUDIT_HMAC_KEY' },
  { material: 'STREAMS_HMAC_KEY', args: [], title: 'STREAMS_HMAC_KEY' },
  { material: 'GATEWAY_STS_HMAC_KEY', args: [], title: 'GATEWAY_STS_HMAC_KEY' },
  { material: 'CARACAL_ADMIN_TOKEN', args: [], title: 'CARACAL_ADMIN_TOKEN' },
  { material: 'CARACAL_COORDINATOR_TOKEN', args: [], title: 'CARACAL_COORDINATOR_TOKEN' },
  { material: 'ZONE_KEK', args: [], title: 'ZONE_KEK (with the re-seal of every sealed secret)' },
  { material: 'ZONE_SIGNING_KEY', args: ['--zone', '*'], title: "ZONE_SIGNING_KEY (every zone: --zone '*')" },
  { material: 'POSTGRES_PASSWORD', args: ['--role', 'api'], title: 'POSTGRES_PASSWORD (role api)' },
  { material: 'REDIS_PASSWORD', args: [], title: 'REDIS_PASSWORD' },
  { material: 'ROTATION_BUS_KEY', args: [], title: "ROTATION_BUS_KEY (the orchestrator's own bus key)" },
];

function caracalRotate(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit'] });
    child.once('error', reject);
    child.once('exit', (code) => resolve(code ?? 1));
  });
}

async function main(): Promise<number> {
  const runDir = process.env.DEMO_DIR || (await mkdtemp(join(tmpdir(), 'caracal-rotation-demo-')));
  const databaseUrl = process.env.DATABASE_URL || DEFAULT_DATABASE_URL;
  const redisUrl = process.env.REDIS_URL || DEFAULT_REDIS_URL;
  const say = (line: string) => process.stdout.write(`${line}\n`);
  say(`run directory      ${runDir}`);
  say(`projection         ${new URL(databaseUrl).host}${new URL(databaseUrl).pathname}`);
  say('starting a replica of Caracal (sandbox), then the planner, secret-writer, roller, verifier and recorder …');
  const stack = await startStack({ redisUrl, databaseUrl, runDir, streamPrefix: process.env.STREAM_PREFIX, sandbox: { zones: 3 }, sandboxWindowMs: 2000, operator: 'demo-operator', logLevel: 'warn' });
  const env = { ...stack.operatorEnv, CARACAL_SECRETS_DIR: stack.secretsDir };
  let failures = 0;
  try {
    say(`Caracal replica    ${Object.entries(stack.sandbox!.services).map(([name, url]) => `${name} ${url}`).join(', ')}`);
    say(`zones              ${stack.sandbox!.zones.join(', ')}`);
    say(`logs               ${join(runDir, 'logs')}`);
    for (const request of DEMO_REQUESTS) {
      say(`\n── ${request.title} ──`);
      const code = await caracalRotate(['request', request.material, ...request.args, '--reason', 'demo: rotate every material', '--ticket', 'DEMO-1', '--wait', '--timeout', '300'], env);
      if (code !== 0) failures++;
    }
    say('\n── what the recorder wrote to Postgres ──');
    await caracalRotate(['list', '--limit', '30'], env);
    say('');
    await caracalRotate(['status'], env);
  } finally {
    say('\nstopping …');
    await stack.stop();
  }
  say(failures === 0 ? '\nAll rotations completed.' : `\n${failures} rotation(s) did not complete; see the output above and ${join(runDir, 'logs')}.`);
  return failures === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`demo: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
