import { assertHexKey, isWeakKek, readSecretFromEnv, secretIdOf } from '@caracal-rotation/secrets';
import type { SecretEnvName } from '../members.js';
import { errorMessage } from './log.js';

type SecretKind = 'kek' | 'hmac-key' | 'token';

const SECRET_KINDS: Readonly<Record<SecretEnvName, SecretKind>> = {
  SECRET_STORE_KEK: 'kek',
  STREAMS_HMAC_KEY: 'hmac-key',
  AUDIT_HMAC_KEY: 'hmac-key',
  GATEWAY_STS_HMAC_KEY: 'hmac-key',
  CARACAL_ADMIN_TOKEN: 'token',
  CARACAL_COORDINATOR_TOKEN: 'token',
  STS_ADMIN_TOKEN: 'token',
};

/** The docs call the KEK ZONE_KEK; Caracal's code reads SECRET_STORE_KEK. Accept both. */
const ALIASES: Partial<Record<SecretEnvName, string>> = { SECRET_STORE_KEK: 'ZONE_KEK' };

interface LoadedSecret {
  current: string;
  kid: string;
  previous?: string;
  previousKid?: string;
}

/**
 * The secrets a member read at start. Like Caracal, a member never re-reads:
 * new material takes a restart. Problems (missing, malformed, pin mismatch)
 * do not crash the process; they keep /ready at 503 with the reason, which is
 * what a roller waiting for readiness needs to see.
 */
export class Material {
  private readonly secrets = new Map<SecretEnvName, LoadedSecret>();
  readonly problems: string[] = [];

  static load(names: readonly SecretEnvName[], env: NodeJS.ProcessEnv, acceptPrevious: boolean, pins: Record<string, string>): Material {
    const material = new Material();
    for (const name of names) material.loadOne(name, env, acceptPrevious, pins[name]);
    return material;
  }

  private loadOne(name: SecretEnvName, env: NodeJS.ProcessEnv, acceptPrevious: boolean, pin: string | undefined): void {
    let loaded: LoadedSecret;
    try {
      const current = readWithAlias(name, '', env);
      if (current === undefined) {
        this.problems.push(`${name} is not set (neither ${name} nor ${name}_FILE)`);
        return;
      }
      validate(name, current);
      loaded = { current, kid: secretIdOf(current) };
      const previous = acceptPrevious ? readWithAlias(name, '_PREVIOUS', env) : undefined;
      if (previous !== undefined) {
        validate(`${name}_PREVIOUS`, previous, SECRET_KINDS[name]);
        loaded.previous = previous;
        loaded.previousKid = secretIdOf(previous);
      }
    } catch (err) {
      this.problems.push(errorMessage(err));
      return;
    }
    this.secrets.set(name, loaded);
    if (pin !== undefined && pin !== loaded.kid) {
      this.problems.push(`${name} has kid ${loaded.kid}, but this holder is pinned to ${pin}`);
    }
  }

  get ok(): boolean {
    return this.problems.length === 0;
  }

  has(name: SecretEnvName): boolean {
    return this.secrets.has(name);
  }

  /** The current value; only call for a secret this member holds. */
  current(name: SecretEnvName): string {
    const loaded = this.secrets.get(name);
    if (!loaded) throw new Error(`${name} is not loaded`);
    return loaded.current;
  }

  /** Values accepted for verification: current first, then previous if accepted. */
  accepted(name: SecretEnvName): string[] {
    const loaded = this.secrets.get(name);
    if (!loaded) return [];
    return loaded.previous === undefined ? [loaded.current] : [loaded.current, loaded.previous];
  }

  /** Key ids only (safe to publish on /health), so a roller can see what a holder loaded. */
  kids(): { current: Record<string, string>; previous: Record<string, string> } {
    const current: Record<string, string> = {};
    const previous: Record<string, string> = {};
    for (const [name, loaded] of this.secrets) {
      current[name] = loaded.kid;
      if (loaded.previousKid) previous[name] = loaded.previousKid;
    }
    return { current, previous };
  }
}

function readWithAlias(name: SecretEnvName, suffix: string, env: NodeJS.ProcessEnv): string | undefined {
  const value = readSecretFromEnv(`${name}${suffix}`, env);
  const alias = ALIASES[name];
  return value ?? (alias ? readSecretFromEnv(`${alias}${suffix}`, env) : undefined);
}

function validate(label: string, value: string, kind: SecretKind = SECRET_KINDS[label as SecretEnvName]): void {
  if (kind === 'token') return;
  if (kind === 'kek') {
    assertHexKey(value, { minBytes: 32, exactBytes: 32, label });
    if (isWeakKek(value)) throw new Error(`${label}: is a weak key-encryption key`);
    return;
  }
  assertHexKey(value, { minBytes: 32, label });
}
