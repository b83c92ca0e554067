import { execFile } from 'node:child_process';

/**
 * Runs a restart command (kubectl rollout restart, docker compose restart,
 * systemctl restart …) without a shell, `{service}` replaced by the holder.
 */
export function restartByCommand(argv: readonly string[], service: string, timeoutMs: number): Promise<void> {
  const [file, ...args] = argv.map((a) => a.replaceAll('{service}', service));
  return new Promise((resolve, reject) => {
    execFile(file!, args, { timeout: timeoutMs, maxBuffer: 1024 * 1024 }, (err, _stdout, stderr) => {
      if (!err) return resolve();
      const why = err.killed ? `timed out after ${timeoutMs} ms` : `exited with ${err.code ?? 'an error'}`;
      reject(new Error(`${file} ${why}: ${String(stderr).trim().slice(0, 300)}`));
    });
  });
}
