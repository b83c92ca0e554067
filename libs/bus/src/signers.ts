import type { KeyringSource } from './keyring-source.js';
import type { OperatorRegistrySource } from './operators.js';

/**
 * The three kinds of key that sign rotation events: the orchestrator's bus
 * key (internal events), operator keys (requests and intents) and Caracal's
 * STREAMS_HMAC_KEY (only the `completed` announcement).
 */
export const SIGNER_KINDS = ['bus', 'operator', 'caracal'] as const;
export type SignerKind = (typeof SIGNER_KINDS)[number];

export interface Signer {
  kind: SignerKind;
  kid: string;
  key: Buffer;
  /** The operator's name, for operator keys: the actor the planner records. */
  name?: string;
}

/** Finds who a key id belongs to, across every kind of key this service knows. */
export interface SignerDirectory {
  identify(kid: string): Signer | undefined;
  /** Re-reads every key source (a consumer calls this before judging an unknown kid). */
  refresh(): Promise<void>;
}

export interface SignerSources {
  bus: KeyringSource;
  operators?: OperatorRegistrySource;
  caracal?: KeyringSource;
}

export class Signers implements SignerDirectory {
  constructor(private readonly sources: SignerSources) {}

  identify(kid: string): Signer | undefined {
    const bus = this.sources.bus.current().find(kid);
    if (bus) return { kind: 'bus', kid, key: bus.key };
    const caracal = this.sources.caracal?.current().find(kid);
    if (caracal) return { kind: 'caracal', kid, key: caracal.key };
    const operator = this.sources.operators?.find(kid);
    if (operator) return { kind: 'operator', kid, key: operator.key, name: operator.operator.name };
    return undefined;
  }

  async refresh(): Promise<void> {
    await Promise.allSettled([this.sources.bus.refresh(), this.sources.caracal?.refresh(), this.sources.operators?.refresh()]);
  }
}
