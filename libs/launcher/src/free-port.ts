import { createServer, type Server } from 'node:net';

function listenEphemeral(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (address && typeof address === 'object') resolve(address.port);
      else reject(new Error('could not read the bound port'));
    });
  });
}

/**
 * Distinct TCP ports on 127.0.0.1 that the kernel says are free now (bind :0).
 * Every listener stays open until all ports are known, so the ports differ; a
 * small race with other processes remains until their users bind them.
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < count; i++) {
      const server = createServer();
      servers.push(server);
      ports.push(await listenEphemeral(server));
    }
    return ports;
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}

export const freePort = async (): Promise<number> => (await freePorts(1))[0]!;
