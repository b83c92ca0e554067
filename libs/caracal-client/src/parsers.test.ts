import { describe, expect, it } from 'vitest';
import { parseResealOutput } from './kek-reseal.js';
import { counterOf, parsePrometheusText } from './metrics.js';
import { compareStreamIds } from './stream-ids.js';

describe("the re-seal job's text (apps/api/scripts/rotate-secret-store-kek.mjs)", () => {
  it('reads every examined line and the summary', () => {
    const text = [
      'secret_store: 3 rows examined',
      'secrets (zone signing keys): 2 rows examined',
      'provider_connections.access_token_ct: 0 rows examined',
      're-seal complete: 4 resealed, 1 already current, 0 rewritten by live services, 0 failed',
      'SECRET_STORE_KEK_PREVIOUS can now be removed from every service environment.',
    ].join('\n');
    expect(parseResealOutput(text)).toEqual({
      tables: [
        { label: 'secret_store', examined: 3 },
        { label: 'secrets (zone signing keys)', examined: 2 },
        { label: 'provider_connections.access_token_ct', examined: 0 },
      ],
      examined: 5,
      resealed: 4,
      alreadyCurrent: 1,
      rewrittenByLive: 0,
      failed: 0,
    });
  });

  it('has no report for a run that did not reach its summary', () => {
    expect(parseResealOutput('secret_store: 3 rows examined\n')).toBeUndefined();
  });
});

describe('Prometheus text (packages/core/go/metrics Render)', () => {
  it('reads name value lines, skips comments, keeps labels in the name', () => {
    const counters = parsePrometheusText('# HELP a_total A\n# TYPE a_total counter\na_total 3\nb{x="1"} 2.5\n');
    expect(counterOf(counters, 'a_total')).toBe(3);
    expect(counters.get('b{x="1"}')).toBe(2.5);
    expect(() => counterOf(counters, 'c_total')).toThrow('the service reports no c_total');
  });
});

it('orders stream ids by time, then sequence', () => {
  expect(['2-0', '10-0', '2-10', '2-2'].sort(compareStreamIds)).toEqual(['2-0', '2-2', '2-10', '10-0']);
});
