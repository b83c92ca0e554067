import os from 'node:os';
import path from 'node:path';

/**
 * Where the secrets live, resolved the way Caracal resolves it (docs/architecture.md §8),
 * so the orchestrator writes exactly the files the services read:
 *
 * 1. `CARACAL_SECRETS_DIR`
 * 2. `$CARACAL_HOME/secrets`
 * 3. `$XDG_DATA_HOME/caracal/secrets`
 * 4. `~/.local/share/caracal/secrets`
 *
 * An empty variable counts as unset, as shells and compose files routinely
 * export `VAR=` to mean "not configured". The result is absolute.
 */
export function resolveSecretsDir(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = nonEmpty(env.CARACAL_SECRETS_DIR);
  if (explicit) return path.resolve(explicit);

  const home = nonEmpty(env.CARACAL_HOME);
  if (home) return path.resolve(home, 'secrets');

  const xdgData = nonEmpty(env.XDG_DATA_HOME);
  if (xdgData) return path.resolve(xdgData, 'caracal', 'secrets');

  // HOME from the given env first, so callers (and tests) can pin it.
  const userHome = nonEmpty(env.HOME) ?? os.homedir();
  return path.resolve(userHome, '.local', 'share', 'caracal', 'secrets');
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

/**
 * The orchestrator's own directory (its bus key, the operator registry and
 * keys), never inside Caracal's secrets directory, which Caracal's
 * containers mount:
 *
 * 1. `CARACAL_ROTATION_DIR`
 * 2. `$CARACAL_HOME/rotation`
 * 3. `$XDG_DATA_HOME/caracal/rotation`
 * 4. `~/.local/share/caracal/rotation`
 */
export function resolveRotationDir(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = nonEmpty(env.CARACAL_ROTATION_DIR);
  if (explicit) return path.resolve(explicit);
  const home = nonEmpty(env.CARACAL_HOME);
  if (home) return path.resolve(home, 'rotation');
  const xdgData = nonEmpty(env.XDG_DATA_HOME);
  if (xdgData) return path.resolve(xdgData, 'caracal', 'rotation');
  const userHome = nonEmpty(env.HOME) ?? os.homedir();
  return path.resolve(userHome, '.local', 'share', 'caracal', 'rotation');
}
