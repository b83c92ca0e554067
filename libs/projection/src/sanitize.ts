/**
 * Postgres text and jsonb cannot hold U+0000, and a request is recorded even
 * when it is invalid: a NUL anywhere would make its insert fail on every
 * retry. Replace it with U+FFFD, recursively.
 */
export function withoutNul<T>(value: T): T {
  if (typeof value === 'string') return (value.includes('\u0000') ? value.replaceAll('\u0000', '\ufffd') : value) as T;
  if (Array.isArray(value)) return value.map((v) => withoutNul(v)) as T;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [withoutNul(k), withoutNul(v)])) as T;
  }
  return value;
}
