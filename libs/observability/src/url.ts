/**
 * A URL with its password replaced by `***`, for logging which server a
 * service talks to. Text that does not parse as a URL comes back as `[unparseable url]`.
 */
export function maskUrlCredentials(url: string): string {
  if (!URL.canParse(url)) return '[unparseable url]';
  const parsed = new URL(url);
  if (parsed.password !== '') parsed.password = '***';
  return parsed.toString();
}
