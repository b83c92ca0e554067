import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Keyring } from './keyring.js';

/**
 * Where a service gets a keyring. The bus key rotates the bus our own events
 * travel on, so keyrings are re-read when their files change, without a
 * restart.
 */
export interface KeyringSource {
  current(): Keyring;
  /** Re-reads the keyring now (a consumer calls this before judging an unknown kid). */
  refresh(): Promise<Keyring>;
  close(): void;
}

export class StaticKeyringSource implements KeyringSource {
  constructor(private keyring: Keyring) {}
  current(): Keyring {
    return this.keyring;
  }
  async refresh(): Promise<Keyring> {
    return this.keyring;
  }
  /** Tests swap keys to simulate a rotation. */
  set(keyring: Keyring): void {
    this.keyring = keyring;
  }
  close(): void {}
}

export interface FileKeyringOptions {
  dir: string;
  file?: string;
  /** The previous key's file (default `<file>Previous`); null when the key has no previous (Caracal's single-value keys). */
  previousFile?: string | null;
  pollMs?: number;
  onChange?: (keyring: Keyring) => void;
  onError?: (err: Error) => void;
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

async function signature(path: string): Promise<string> {
  try {
    const s = await stat(path);
    return `${s.ino}:${s.mtimeMs}:${s.size}`;
  } catch {
    return 'absent';
  }
}

/**
 * Reads a key file (+ its `Previous` file) and polls their inode
 * and mtime. Polling rather than fs.watch: mounted Kubernetes secrets change by
 * symlink swap, which watchers miss.
 */
export class FileKeyringSource implements KeyringSource {
  private keyring!: Keyring;
  private stamp = '';
  private timer: NodeJS.Timeout | undefined;
  private readonly currentPath: string;
  private readonly previousPath: string | undefined;

  private constructor(private readonly opts: FileKeyringOptions) {
    this.currentPath = join(opts.dir, opts.file ?? 'streamsHmacKey');
    this.previousPath = opts.previousFile === null ? undefined : join(opts.dir, opts.previousFile ?? `${opts.file ?? 'streamsHmacKey'}Previous`);
  }

  static async open(opts: FileKeyringOptions): Promise<FileKeyringSource> {
    const source = new FileKeyringSource(opts);
    await source.refresh();
    const pollMs = opts.pollMs ?? 500;
    if (pollMs > 0) {
      source.timer = setInterval(() => {
        source.refreshIfChanged().catch((err: Error) => opts.onError?.(err));
      }, pollMs);
      source.timer.unref();
    }
    return source;
  }

  current(): Keyring {
    return this.keyring;
  }

  private async stampNow(): Promise<string> {
    return `${await signature(this.currentPath)}|${this.previousPath ? await signature(this.previousPath) : ''}`;
  }

  private async refreshIfChanged(): Promise<void> {
    if ((await this.stampNow()) !== this.stamp) await this.refresh();
  }

  async refresh(): Promise<Keyring> {
    const stamp = await this.stampNow();
    const current = await readOptional(this.currentPath);
    if (!current) throw new Error(`key file ${this.currentPath} is missing or empty`);
    const previous = this.previousPath ? await readOptional(this.previousPath) : undefined;
    // A previous equal to the current one (a resting copy) verifies nothing more.
    const next = Keyring.fromHex(current, previous && previous !== current ? previous : undefined);
    const changed = !this.keyring || next.kids.join() !== this.keyring.kids.join();
    this.keyring = next;
    this.stamp = stamp;
    if (changed) this.opts.onChange?.(next);
    return next;
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
