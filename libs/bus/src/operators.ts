import { readFile, stat } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { operatorRegistrySchema, type OperatorEntry } from '@caracal-rotation/contracts';
import { decodeHexKey, keyIdOf } from './signature.js';

/** An operator as the planner authenticates it: the registry entry and its key. */
export interface KnownOperator {
  kid: string;
  key: Buffer;
  operator: OperatorEntry;
}

export class OperatorRegistryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OperatorRegistryError';
  }
}

export const OPERATORS_FILE = 'operators.json';

/**
 * Reads `operators.json` and every operator's key from the orchestrator's
 * directory. Key files must stay inside the directory; a missing or malformed
 * key is an error that names the operator, never the key.
 */
export async function loadOperators(dir: string, file = OPERATORS_FILE): Promise<KnownOperator[]> {
  const path = join(dir, file);
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new OperatorRegistryError(`${path} does not exist: run caracal-rotate init`);
    throw new OperatorRegistryError(`${path} is not valid JSON: ${(err as Error).message}`);
  }
  const parsed = operatorRegistrySchema.safeParse(raw);
  if (!parsed.success) {
    throw new OperatorRegistryError(`${path} is invalid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  const root = resolve(dir);
  const known: KnownOperator[] = [];
  for (const operator of parsed.data.operators) {
    const keyPath = resolve(root, operator.key_file);
    if (!keyPath.startsWith(root + sep)) throw new OperatorRegistryError(`operator ${operator.name}: key_file must stay inside ${root}`);
    let hex: string;
    try {
      hex = (await readFile(keyPath, 'utf8')).trim();
    } catch {
      throw new OperatorRegistryError(`operator ${operator.name}: key file ${keyPath} cannot be read`);
    }
    let key: Buffer;
    try {
      key = decodeHexKey(hex);
    } catch (err) {
      throw new OperatorRegistryError(`operator ${operator.name}: key file ${keyPath}: ${(err as Error).message}`);
    }
    known.push({ kid: keyIdOf(key), key, operator });
  }
  return known;
}

/** The registry, re-read when operators.json or a key file changes (an operator is added or revoked without a restart). */
export class OperatorRegistrySource {
  private byKid = new Map<string, KnownOperator>();
  private stamp = '';
  private timer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly dir: string,
    private readonly onError: (err: Error) => void,
  ) {}

  static async open(opts: { dir: string; pollMs?: number; onError?: (err: Error) => void }): Promise<OperatorRegistrySource> {
    const source = new OperatorRegistrySource(opts.dir, opts.onError ?? (() => undefined));
    await source.refresh();
    const pollMs = opts.pollMs ?? 1000;
    if (pollMs > 0) {
      source.timer = setInterval(() => void source.refreshIfChanged().catch((err: Error) => source.onError(err)), pollMs);
      source.timer.unref();
    }
    return source;
  }

  find(kid: string): KnownOperator | undefined {
    return this.byKid.get(kid);
  }

  get operators(): KnownOperator[] {
    return [...this.byKid.values()];
  }

  private async currentStamp(): Promise<string> {
    const s = await stat(join(this.dir, OPERATORS_FILE)).catch(() => undefined);
    return s ? `${s.ino}:${s.mtimeMs}:${s.size}` : 'absent';
  }

  private async refreshIfChanged(): Promise<void> {
    if ((await this.currentStamp()) !== this.stamp) await this.refresh();
  }

  /** Re-reads the registry; on error the previous registry stays in force and the error is thrown. */
  async refresh(): Promise<void> {
    const stamp = await this.currentStamp();
    const operators = await loadOperators(this.dir);
    this.byKid = new Map(operators.map((o) => [o.kid, o]));
    this.stamp = stamp;
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
