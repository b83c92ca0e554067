import { DEFAULT_CATALOG, type Material } from '@caracal-rotation/contracts';
import { keyIdOf, type SecretStore } from '@caracal-rotation/secrets';

/**
 * The verifier's read-only view of the store: it must present new material to
 * prove it is accepted, and old material (from the version history) to prove
 * it is refused. Values stay in memory and never reach an event or a log.
 */
export class MaterialReader {
  constructor(private readonly store: SecretStore) {}

  get secretsDir(): string {
    return this.store.dir;
  }

  /** Any file of the secrets directory by name (credentials of checks' targets). */
  async file(name: string): Promise<string> {
    const value = await this.store.read(name);
    if (!value) throw new Error(`${this.store.pathOf(name)} is empty or missing`);
    return value;
  }

  fileOf(material: Material): string {
    const file = DEFAULT_CATALOG.materials.find((m) => m.material === material)?.file;
    if (!file) throw new Error(`${material} has no secret file`);
    return file;
  }

  async current(material: Material): Promise<string> {
    return this.currentOfFile(this.fileOf(material));
  }

  /** A value by key id: the current file, `Previous`, or the version history. */
  async byKid(material: Material, kid: string): Promise<string> {
    return this.byKidInFile(this.fileOf(material), kid);
  }

  /** The current value of a secret file named by the plan (per-role files such as `apiDbPassword`). */
  async currentOfFile(file: string): Promise<string> {
    return this.file(file);
  }

  /** A value of a secret file by key id: the file, its `Previous`, or the version history. */
  async byKidInFile(file: string, kid: string): Promise<string> {
    for (const name of [file, `${file}Previous`]) {
      const value = await this.store.read(name);
      if (value && keyIdOf(value) === kid) return value;
    }
    const value = await this.store.readVersion(file, kid);
    if (!value) throw new Error(`no version of ${file} with kid ${kid} is recorded`);
    return value;
  }
}
