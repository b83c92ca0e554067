import { MATERIALS, type Material } from '@caracal-rotation/contracts';
import { describe, expect, it } from 'vitest';
import { ComposeTarget, HelmOverlayTarget, OLD_VALUE_CHECKS, materialProblems, type Target } from './wiring.js';

// Every one of the ten materials, asked of each deployment: its writer has its store, its
// files and the holders-file section it writes through; every holder of its catalog entry is
// in the holders file with an adapter the roller can use; every check of the entry has the
// services and sections CHECK_NEEDS asks for, reachable by the verifier. What a deployment
// cannot do yet is listed here by name, so that closing a gap (or opening one) fails the test.

const problemsOf = (t: Target): Partial<Record<Material, string[]>> =>
  Object.fromEntries(MATERIALS.map((m) => [m, materialProblems(t, m)] as const).filter(([, problems]) => problems.length > 0));

/** Caracal's re-seal job needs a runner the verifier does not have yet (docs/operations.md, "The KEK re-seal job"). */
const NO_RESEAL = 'check kek_reseal: needs the kek_reseal section of the holders file';

describe('deploy/compose beside caracal up', () => {
  const compose = new ComposeTarget();

  it('wires every material but the KEK re-seal', () => {
    expect(problemsOf(compose)).toEqual({ ZONE_KEK: [NO_RESEAL] });
  });
});

describe('deploy/k8s/overlays/beside-helm beside a Helm release', () => {
  const overlay = new HelmOverlayTarget();
  const noHistory = (check: string) => `check ${check}: ${overlay.historyProblem()}`;

  it('wires every material of its catalog, short of the re-seal job and of old values the verifier cannot read', () => {
    expect(problemsOf(overlay)).toEqual({
      ZONE_KEK: [NO_RESEAL],
      AUDIT_HMAC_KEY: [noHistory('audit_old_key_refused')],
      STREAMS_HMAC_KEY: [noHistory('streams_old_key_refused')],
      GATEWAY_STS_HMAC_KEY: [noHistory('gateway_old_key_refused')],
      CARACAL_ADMIN_TOKEN: [noHistory('admin_token_old_refused')],
      CARACAL_COORDINATOR_TOKEN: [noHistory('coordinator_token_old_refused')],
      POSTGRES_PASSWORD: [noHistory('postgres_login_old_refused')],
      REDIS_PASSWORD: [noHistory('redis_auth_old_refused')],
      ROTATION_BUS_KEY: ["not in the deployment's catalog"],
    });
  });

  it('leaves the bus key out of its catalog, because the writer could not hand a new one to the other services', () => {
    expect(overlay.catalog.materials.map((m) => m.material)).toEqual(MATERIALS.filter((m) => m !== 'ROTATION_BUS_KEY'));
    expect(overlay.rotationStoreProblem()).toBeDefined();
  });
});

describe('the wiring questions', () => {
  // The questions must be able to say no: a deployment with its pieces taken away.
  it('find a holder without a restart adapter, a missing section, and an unreachable service', () => {
    const compose = new ComposeTarget();
    const broken: Target = Object.create(compose, {
      holders: { value: { ...compose.holders, services: { ...compose.holders.services, web: undefined }, redis: undefined } },
      verifierReachProblem: { value: (s: string) => (s === 'audit' ? 'cut off' : undefined) },
    }) as Target;
    expect(materialProblems(broken, 'CARACAL_ADMIN_TOKEN')).toContain('holder web: not in the holders file');
    expect(materialProblems(broken, 'REDIS_PASSWORD')).toEqual(
      expect.arrayContaining(['writer: the holders file has no redis section', 'check redis_auth_new: needs the redis section of the holders file']),
    );
    expect(materialProblems(broken, 'AUDIT_HMAC_KEY')).toContain('check audit_ingest: cut off');
    expect(OLD_VALUE_CHECKS.size).toBeGreaterThan(0);
  });
});
