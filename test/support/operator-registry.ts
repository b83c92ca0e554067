import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { keyIdOf } from '@caracal-rotation/bus';
import { cliEnvironment, connectOperator, type Operator } from '@caracal-rotation/caracal-rotate';
import { operatorRegistrySchema, type OperatorEntry } from '@caracal-rotation/contracts';

/**
 * Operators added to a running stack's registry (`operators.json` in its
 * orchestrator directory), each with a key of its own, as an administrator
 * would add them; the planner and recorder re-read the registry on change.
 */
export interface RegisteredOperator {
  name: string;
  kid: string;
  keyFile: string;
  operator: Operator;
}

export async function registerOperator(
  rotationDir: string,
  cliEnv: NodeJS.ProcessEnv,
  entry: Omit<OperatorEntry, 'key_file' | 'emergency' | 'rollback' | 'abandon'> & Partial<Pick<OperatorEntry, 'emergency' | 'rollback' | 'abandon'>>,
): Promise<RegisteredOperator> {
  const keyHex = randomBytes(32).toString('hex');
  const relative = `operators/${entry.name.replace(/[^A-Za-z0-9_.-]/g, '_')}.key`;
  await mkdir(join(rotationDir, 'operators'), { recursive: true, mode: 0o700 });
  const keyFile = join(rotationDir, relative);
  await writeFile(keyFile, keyHex, { mode: 0o400 });

  const path = join(rotationDir, 'operators.json');
  const registry = operatorRegistrySchema.parse(JSON.parse(await readFile(path, 'utf8')));
  registry.operators.push({ emergency: false, rollback: false, abandon: false, ...entry, key_file: relative });
  await writeFile(`${path}.tmp`, `${JSON.stringify(registry, null, 2)}\n`, { mode: 0o644 });
  await rename(`${path}.tmp`, path);

  const operator = await connectOperator(cliEnvironment({ ...cliEnv, CARACAL_OPERATOR_KEY_FILE: keyFile }));
  return { name: entry.name, kid: keyIdOf(Buffer.from(keyHex, 'hex')), keyFile, operator };
}
