import type { Plan } from '@caracal-rotation/contracts';
import { secretIdOf, type SecretStore } from '@caracal-rotation/secrets';

/**
 * The verifier's read-only view of the secret stores: the values a check
 * presents to Caracal, found by the key id the event names (the current
 * file, its `Previous` file, or the version history), and the credentials
 * the checks need (the metrics bearer, the admin URLs). Values stay in
 * memory: only ids and locations reach a result.
 */
export class MaterialValues {
  constructor(private readonly stores: { caracal: SecretStore; rotation: SecretStore }) {}

  /** Caracal's store, or the orchestrator's own directory for the bus key. */
  storeOf(plan: Plan): SecretStore {
    return plan.store === 'rotation' ? this.stores.rotation : this.stores.caracal;
  }

  get caracal(): SecretStore {
    return this.stores.caracal;
  }

  /** The value of the plan's secret whose id is `kid`. */
  async byKid(plan: Plan, kid: string): Promise<string> {
    if (!plan.secret) throw new Error(`${plan.material} has no secret file to present`);
    const store = this.storeOf(plan);
    const { file, previous_file: previous } = plan.secret;
    for (const name of previous ? [file, previous] : [file]) {
      const value = await store.read(name);
      if (value && secretIdOf(value) === kid) return value;
    }
    const recorded = await store.readVersion(file, kid);
    if (!recorded) throw new Error(`no value of ${store.location(file)} with id ${kid} is in the store or its version history`);
    return recorded;
  }

  /** A file of Caracal's store that a check needs (a bearer, a URL); an error names it when it is missing. */
  async credential(name: string): Promise<string> {
    const value = await this.stores.caracal.read(name);
    if (!value) throw new Error(`${this.stores.caracal.location(name)} is missing or empty`);
    return value;
  }
}
