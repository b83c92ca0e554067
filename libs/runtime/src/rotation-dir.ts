import { readFile } from 'node:fs/promises';
import { hostname, userInfo } from 'node:os';
import { join } from 'node:path';
import { keyIdOf, OPERATORS_FILE } from '@caracal-rotation/bus';
import { mintReadOnlyAdminToken } from '@caracal-rotation/caracal-client';
import { operatorRegistrySchema, type OperatorRegistry } from '@caracal-rotation/contracts';
import { FileSecretStore, generateKeyHex, isWithin, writeFileAtomic } from '@caracal-rotation/secrets';

export const BUS_KEY = 'busKey';
export const OPERATOR_KEY = 'operatorKey';
export const ZONE_READER_TOKEN = 'zoneReaderToken';

export const defaultOperatorName = (): string => `${userInfo().username}@${hostname()}`;

async function readText(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, 'utf8')).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** The directory cannot be set up as asked (it would lie inside Caracal's secrets, a token is missing). */
export class RotationDirError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RotationDirError';
  }
}

export interface InitResult {
  rotation_dir: string;
  created: string[];
  kept: string[];
  /** Things the operator should know: an existing registry that does not list the local key. */
  notes: string[];
}

/**
 * Creates what the orchestrator's own directory lacks, never overwriting:
 * the bus key, the local operator's key, and a registry that lists that
 * operator with every right. With a Caracal API and its admin token, also a
 * read-capability admin token for the planner's zone listing.
 */
export async function initRotationDir(opts: {
  rotationDir: string;
  secretsDir: string;
  operator: string;
  zoneReader?: { apiUrl: string; adminTokenFile: string };
}): Promise<InitResult> {
  if (isWithin(opts.secretsDir, opts.rotationDir) || opts.rotationDir === opts.secretsDir) {
    throw new RotationDirError(`the orchestrator's directory ${opts.rotationDir} lies inside Caracal's secrets directory ${opts.secretsDir}, which Caracal's containers mount; set CARACAL_ROTATION_DIR elsewhere`);
  }
  const store = new FileSecretStore({ dir: opts.rotationDir });
  await store.ensureReady();
  const result: InitResult = { rotation_dir: opts.rotationDir, created: [], kept: [], notes: [] };
  const ensure = async (name: string, make: () => Promise<string> | string) => {
    if (await store.read(name)) {
      result.kept.push(name);
      return;
    }
    await store.write(name, await make());
    result.created.push(name);
  };

  await ensure(BUS_KEY, () => generateKeyHex(32));
  await ensure(OPERATOR_KEY, () => generateKeyHex(32));
  const operatorKid = keyIdOf(Buffer.from((await store.read(OPERATOR_KEY))!, 'hex'));

  const registryPath = join(opts.rotationDir, OPERATORS_FILE);
  const existing = await readText(registryPath);
  if (!existing) {
    const registry: OperatorRegistry = {
      version: 1,
      operators: [{ name: opts.operator, key_file: OPERATOR_KEY, materials: ['*'], emergency: true, rollback: true, abandon: true }],
    };
    // Not a secret: the registry names key files, it holds no key.
    await writeFileAtomic(opts.rotationDir, OPERATORS_FILE, `${JSON.stringify(registry, null, 2)}\n`, 0o644);
    result.created.push(OPERATORS_FILE);
  } else {
    result.kept.push(OPERATORS_FILE);
    const parsed = operatorRegistrySchema.safeParse(JSON.parse(existing));
    if (!parsed.success) result.notes.push(`${registryPath} is not a valid registry; the planner will refuse to start until it is fixed`);
    else if (!parsed.data.operators.some((o) => o.key_file === OPERATOR_KEY)) {
      result.notes.push(`${registryPath} lists no operator with key_file "${OPERATOR_KEY}" (kid ${operatorKid}): add one to sign requests from this machine`);
    }
  }

  if (opts.zoneReader) {
    const { apiUrl, adminTokenFile } = opts.zoneReader;
    await ensure(ZONE_READER_TOKEN, async () => {
      const admin = await readText(adminTokenFile);
      if (!admin) throw new RotationDirError(`minting the zone reader token needs Caracal's admin token; ${adminTokenFile} is missing or empty`);
      return (await mintReadOnlyAdminToken(apiUrl, admin, `caracal-rotation zone reader (${opts.operator})`)).token;
    });
  }
  return result;
}

