import type { MemberName } from '../members.js';
import type { BootInfo } from './health-probe.js';

export type { BootInfo };

export interface FleetOptions {
  secretsDir: string;
  redisUrl: string;
  /** Seed nodes (`host:port`) of a Redis Cluster the members use instead of `redisUrl` (REDIS_CLUSTER_NODES). */
  redisClusterNodes?: readonly string[];
  /** Prefix of every Caracal stream and key the fleet uses; '' in a real-looking setup. */
  namespace?: string;
  /** Which members to run; all six by default. */
  members?: MemberName[];
  /** Whether a member reads `<NAME>_PREVIOUS_FILE`; true by default. */
  acceptPrevious?: Partial<Record<MemberName, boolean>>;
  /** Fault injection: ENV name → kid the member's material must have to come ready. */
  pins?: Partial<Record<MemberName, Record<string, string>>>;
  /** First port (members take basePort + their index in MEMBER_NAMES), or free ports. */
  basePort?: number | 'ephemeral';
  /** Port of the control API; basePort + 6 with a numeric basePort, else a free one. */
  controlPort?: number;
  /** Member output goes to `<logDir>/<name>.log`. */
  logDir?: string;
  /**
   * Postgres of the sealed zone secrets, given to the KEK holders (API, STS).
   * Without it their sealed-secret endpoints answer 503 and they stay ready.
   */
  databaseUrl?: string;
  /** How long the STS's JWKS keeps the previous zone key after a rotation; 24 h by default, as Caracal. */
  jwksPreviousWindowMs?: number;
}

export interface FleetMember {
  url: string;
  port: number;
}

export interface RestartResult {
  member: MemberName;
  before: BootInfo | null;
  after: BootInfo;
}

export interface MemberStatus extends FleetMember {
  name: MemberName;
  running: boolean;
  pid: number | null;
  boot_id: string | null;
  started_at: string | null;
}

export interface Fleet {
  members: Partial<Record<MemberName, FleetMember>>;
  controlUrl: string;
  namespace: string;
  /** The member's base URL; throws for a member this fleet does not run. */
  url(name: MemberName): string;
  restart(name: MemberName): Promise<RestartResult>;
  stopMember(name: MemberName): Promise<{ member: MemberName; before: BootInfo | null }>;
  startMember(name: MemberName): Promise<{ member: MemberName; after: BootInfo }>;
  status(): MemberStatus[];
  /** Replaces the member's pins; they apply from its next start. */
  setPins(name: MemberName, pins: Record<string, string>): void;
  /** Applies from the member's next start. */
  setAcceptPrevious(name: MemberName, accept: boolean): void;
  stop(): Promise<void>;
}
