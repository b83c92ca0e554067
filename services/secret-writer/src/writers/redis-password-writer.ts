import { createHash } from 'node:crypto';
import { TransientError } from '@caracal-rotation/bus';
import type { Phase } from '@caracal-rotation/contracts';
import { keyIdOf, type SecretStore } from '@caracal-rotation/secrets';
import { Redis } from 'ioredis';
import type { PhaseOutcome } from '../rotation-record.js';
import { WriteRefused, type MaterialWriter, type WriteContext } from './material-writer.js';
import { RotationHistory } from './rotation-history.js';
import { withPassword } from './url-password.js';

export interface RedisPasswordTarget {
  /** The store file holding a URL with the default user's current password (Caracal's `redisUrl`). */
  admin_url_file: string;
}

/** `ACL SETUSER … <hash` removes a password by its SHA-256, so the value itself is never sent to remove it. */
const sha256 = (value: string): string => createHash('sha256').update(value).digest('hex');

/**
 * Rotates Caracal's Redis password: `requirepass`, i.e. the default user's
 * password (infra/redis/entrypoint.sh in Caracal).
 *
 * - deploy: `ACL SETUSER default on >new` adds the new password beside the
 *   old one, then `redisPassword` and `redisUrl` are written: every client
 *   keeps working while the holders restart.
 * - retire: the old password is removed (`!<sha256>`); connections opened
 *   with it stay, new ones are refused.
 * - rollback: the new password is removed and the files restored.
 *
 * The admin connection uses the password in `redisUrl` at the moment of the
 * call: the old one before deploy, the new one after.
 */
export class RedisPasswordWriter implements MaterialWriter {
  private readonly history: RotationHistory;

  constructor(
    private readonly store: SecretStore,
    private readonly target: RedisPasswordTarget,
  ) {
    this.history = new RotationHistory(store);
  }

  async write(phase: Phase, { rotationId, plan }: WriteContext): Promise<PhaseOutcome> {
    if (!plan.secret) throw new WriteRefused(`${plan.material} has no secret file in its plan`);
    const file = plan.secret.file;
    const before = await this.history.snapshot(rotationId, file, plan.derived);
    const old = before.primary;
    const next = await this.history.newValue(rotationId, file, plan.format);
    const location = this.store.location(file);
    const outcome = (current: string, previous: string, changed = true): PhaseOutcome => ({ new: { kid: keyIdOf(current), location }, previous: { kid: keyIdOf(previous) }, changed });

    switch (phase) {
      case 'deploy':
        await this.acl([`>${next}`], [old, next]);
        await this.store.write(file, next);
        for (const name of plan.derived) {
          const url = before.companions.get(name);
          if (url) await this.store.write(name, withPassword(url, next));
        }
        return outcome(next, old);
      case 'retire':
        await this.acl([`!${sha256(old)}`], [next]);
        return outcome(next, old);
      case 'rollback':
        await this.acl([`!${sha256(next)}`], [old, next]);
        await this.history.restore(file, plan.derived, before);
        return outcome(old, next);
      case 'stage':
        throw new WriteRefused('the Redis password has no stage phase: the server itself accepts both passwords during the overlap');
    }
  }

  /** Runs `ACL SETUSER default on …` authenticating with the first of `passwords` that works. */
  private async acl(rules: string[], passwords: string[]): Promise<void> {
    const url = await this.store.read(this.target.admin_url_file);
    if (!url) throw new WriteRefused(`the Redis URL ${this.store.location(this.target.admin_url_file)} is missing or empty`);
    let lastError = 'no password to try';
    // Connect without credentials and AUTH explicitly: a refused password then says so,
    // instead of surfacing as a closed connection.
    const client = new Redis(withPassword(url, ''), { protocol: 2, lazyConnect: true, enableReadyCheck: false, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null, connectTimeout: 5000 });
    client.on('error', () => undefined);
    try {
      try {
        await client.connect();
      } catch {
        throw new TransientError("Caracal's Redis did not answer");
      }
      for (const password of [...new Set(passwords)]) {
        try {
          await client.call('AUTH', password);
        } catch (err) {
          if (/WRONGPASS|invalid username-password/i.test((err as Error).message)) {
            lastError = 'the password was refused';
            continue;
          }
          throw new TransientError("Caracal's Redis did not answer AUTH");
        }
        try {
          await client.call('ACL', 'SETUSER', 'default', 'on', ...rules);
          return;
        } catch (err) {
          // Never echo the command: it carries the password.
          throw new WriteRefused(`Caracal's Redis refused the ACL change (${(err as Error).message.split(' ')[0]})`);
        }
      }
    } finally {
      client.disconnect();
    }
    throw new WriteRefused(`cannot authenticate to Caracal's Redis to change its password: ${lastError}`);
  }
}
