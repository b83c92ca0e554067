import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as client from '@caracal-rotation/caracal-client';
import { CARACAL_PROBES, CARACAL_ROUTES } from '@caracal-rotation/caracal-client';
import { expect, it } from 'vitest';

/**
 * Every request of libs/caracal-client has its contract in this suite: a
 * `contract('<name>', …)` block, which itself fails unless it sends the
 * request (support/contract.ts).
 */
const here = import.meta.dirname;
const declared = new Set(
  readdirSync(here)
    .filter((f) => f.endsWith('.test.ts'))
    .flatMap((f) => [...readFileSync(path.join(here, f), 'utf8').matchAll(/\bcontract\('([A-Za-z]+)'/g)].map((m) => m[1]!)),
);

it('exercises every route of CARACAL_ROUTES', () => {
  expect(Object.keys(CARACAL_ROUTES).filter((name) => !declared.has(name))).toEqual([]);
});

it('exercises every probe of CARACAL_PROBES', () => {
  expect(Object.keys(CARACAL_PROBES).filter((name) => !declared.has(name))).toEqual([]);
});

it('declares no contract for a request the tables do not list', () => {
  const known = new Set([...Object.keys(CARACAL_ROUTES), ...Object.keys(CARACAL_PROBES)]);
  expect([...declared].filter((name) => !known.has(name))).toEqual([]);
});

it('names, for every probe, functions the library exports', () => {
  for (const [name, probe] of Object.entries(CARACAL_PROBES)) {
    for (const sender of probe.sender.split(', ')) expect(typeof (client as Record<string, unknown>)[sender], `${name}: ${sender}`).toBe('function');
  }
});
