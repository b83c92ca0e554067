import type { CaracalProbeName } from './probes.js';
import type { CaracalRouteName } from './routes.js';

export type CaracalRequestName = CaracalRouteName | CaracalProbeName;
export type CaracalRequestListener = (name: CaracalRequestName) => void;

const listeners = new Set<CaracalRequestListener>();

/**
 * Calls `listener` with the name of every request this library sends to
 * Caracal (a route of CARACAL_ROUTES or a probe of CARACAL_PROBES): the
 * contract suite proves with it that each request it describes was really
 * sent. Returns the function that stops listening.
 */
export function observeCaracalRequests(listener: CaracalRequestListener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function noteCaracalRequest(name: CaracalRequestName): void {
  for (const listener of listeners) listener(name);
}
