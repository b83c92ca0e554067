import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isMemberName, type MemberName } from '../members.js';
import { createRouter, HttpError, sendJson, type Handler } from '../member/http.js';
import type { Fleet } from './types.js';

type FleetControls = Pick<Fleet, 'restart' | 'stopMember' | 'startMember' | 'status'>;

/**
 * The supervisor's HTTP control API on 127.0.0.1. `POST /members/<name>/restart`
 * is what the roller's `http` adapter calls; its answer carries the before and
 * after boot ids that prove the restart.
 */
export async function startControlApi(fleet: FleetControls, port: number, onError: (err: unknown) => void): Promise<{ url: string; server: Server }> {
  const memberAction = (action: (name: MemberName) => Promise<unknown>): Handler => {
    return async (_req, res, { match }) => {
      const name = match?.[1] ?? '';
      if (!isMemberName(name) || !fleet.status().some((m) => m.name === name)) throw new HttpError(404, `no member named ${name}`);
      let result: unknown;
      try {
        result = await action(name);
      } catch (err) {
        // The caller (a roller) needs the reason, e.g. the member's last output lines.
        throw new HttpError(500, err instanceof Error ? err.message : String(err));
      }
      sendJson(res, 200, result);
    };
  };
  const router = createRouter(
    [
      { method: 'GET', path: '/health', handler: (_req, res) => sendJson(res, 200, { ok: true }) },
      { method: 'GET', path: '/members', handler: (_req, res) => sendJson(res, 200, { members: fleet.status() }) },
      { method: 'POST', path: /^\/members\/([a-z]+)\/restart$/, handler: memberAction((name) => fleet.restart(name)) },
      { method: 'POST', path: /^\/members\/([a-z]+)\/stop$/, handler: memberAction((name) => fleet.stopMember(name)) },
      { method: 'POST', path: /^\/members\/([a-z]+)\/start$/, handler: memberAction((name) => fleet.startMember(name)) },
    ],
    onError,
  );
  const server = createServer(router);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}
