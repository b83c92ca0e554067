import { connect as connectTcp, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { noteCaracalRequest } from './observe.js';

export type AuthResult = { ok: true } | { ok: false; code: string };

/** A RESP command: an array of bulk strings. */
const resp = (...args: string[]): string => `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;

/**
 * `AUTH <password>` then PING on a fresh connection to the host and port of
 * Caracal's Redis URL (its own credentials are not used), spoken in RESP
 * directly so that nothing else is sent before AUTH. Caracal's Redis has
 * `requirepass` only, no ACL users (infra/redis/entrypoint.sh): the password
 * is the default user's, and one it no longer has answers WRONGPASS. The
 * result carries the error code only, never the server's message.
 */
export async function redisAuth(url: string, password: string, opts: { timeoutMs?: number } = {}): Promise<AuthResult> {
  noteCaracalRequest('redisAuth');
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    throw new Error("Caracal's Redis URL is not a valid URL");
  }
  const host = target.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = Number(target.port || 6379);
  return new Promise<AuthResult>((resolve) => {
    const socket: Socket = target.protocol === 'rediss:' ? connectTls({ host, port, servername: host }) : connectTcp({ host, port });
    const done = (result: AuthResult) => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(opts.timeoutMs ?? 5_000, () => done({ ok: false, code: 'connect ETIMEDOUT' }));
    socket.once('error', (err: NodeJS.ErrnoException) => done({ ok: false, code: `connect ${err.code ?? 'error'}` }));
    let buffer = '';
    const replies: string[] = [];
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      for (let at = buffer.indexOf('\r\n'); at >= 0; at = buffer.indexOf('\r\n')) {
        replies.push(buffer.slice(0, at));
        buffer = buffer.slice(at + 2);
      }
      const [auth, ping] = replies;
      if (auth === undefined) return;
      if (!auth.startsWith('+')) return done({ ok: false, code: /^-([A-Z]+)/.exec(auth)?.[1] ?? 'unexpected reply' });
      if (ping === undefined) return;
      done(ping === '+PONG' ? { ok: true } : { ok: false, code: /^-([A-Z]+)/.exec(ping)?.[1] ?? 'unexpected reply' });
    });
    socket.once('connect', () => socket.write(resp('AUTH', password) + resp('PING')));
    if (target.protocol === 'rediss:') socket.removeAllListeners('connect').once('secureConnect', () => socket.write(resp('AUTH', password) + resp('PING')));
  });
}
