/** pg returns timestamptz as Date; read models hand out ISO strings. */
export const iso = (d: Date | null): string | null => d?.toISOString() ?? null;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Ids typed by an operator are checked before they reach a uuid column (which would throw). */
export const isUuid = (value: string): boolean => UUID.test(value);
