/**
 * A connection URL with its password replaced and everything else kept (user,
 * host, port, database, options): derived files such as `apiDatabaseUrl` and
 * `redisUrl` point where they pointed before.
 */
export function withPassword(url: string, password: string): string {
  const parsed = new URL(url);
  parsed.password = password === '' ? '' : encodeURIComponent(password);
  return parsed.toString();
}
