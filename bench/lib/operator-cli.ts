import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from './worker.js';

/** The operator's command, as installed: it runs the compiled CLI. */
const CLI = join(REPO_ROOT, 'apps', 'caracal-rotate', 'bin', 'caracal-rotate.js');

/**
 * Runs `caracal-rotate <args> --json` the way an operator does (their key,
 * their environment) and returns its result document.
 */
export function caracalRotate(args: readonly string[], env: NodeJS.ProcessEnv): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args, '--json'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`caracal-rotate ${args.join(' ')} exited ${code}: ${stderr.trim() || stdout.trim()}`));
      try {
        resolve(JSON.parse(stdout) as Record<string, unknown>);
      } catch {
        reject(new Error(`caracal-rotate ${args.join(' ')} printed no JSON document: ${stdout.slice(0, 500)}`));
      }
    });
  });
}
