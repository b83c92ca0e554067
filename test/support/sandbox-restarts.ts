import { request } from 'node:http';

/** GET on the sandbox's Docker Engine API socket; answers the parsed JSON body. */
function engineGet(socketPath: string, path: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, method: 'GET', timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        if (res.statusCode !== 200) reject(new Error(`GET ${path} on ${socketPath} answered ${res.statusCode}: ${body.slice(0, 200)}`));
        else resolve(JSON.parse(body));
      });
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path} on ${socketPath} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

/**
 * When each of the sandbox's containers last started, as the Engine API
 * reports it (`State.StartedAt`): the roller's restarts go through the same
 * socket, so a changed value is a restart.
 */
export async function containerStarts(socketPath: string): Promise<Record<string, string>> {
  const list = (await engineGet(socketPath, '/containers/json?all=1')) as { Id: string; Names: string[] }[];
  const out: Record<string, string> = {};
  for (const c of list) {
    const inspect = (await engineGet(socketPath, `/containers/${c.Id}/json`)) as { Name: string; State: { StartedAt: string } };
    out[inspect.Name.replace(/^\//, '')] = inspect.State.StartedAt;
  }
  return out;
}

/** Containers whose start time differs between two readings. */
export const restartedBetween = (before: Record<string, string>, after: Record<string, string>): string[] =>
  Object.keys(after)
    .filter((name) => before[name] !== after[name])
    .sort();
