import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { publishRevocationProbe } from '@caracal-rotation/caracal-client';
import { caracalStreams } from '@caracal-rotation/contracts';
import { rotationDrains } from '@caracal-rotation/projection';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startE2E, type E2E } from '../support/e2e-stack.js';
import { untilProjected } from '../support/projection-rows.js';
import { entriesOf } from '../support/rotation-evidence.js';
import { minutes, PROFILE } from './profile.js';
import { seconds, Section } from './report.js';

/**
 * A consumer group on one of Caracal's streams that took entries and never
 * acknowledged them, its consumer gone (a SIEM exporter uninstalled, a
 * replaced pod's per-host group): the STREAMS_HMAC_KEY drain gate must not
 * wait for it for ever, and must say that it did not.
 */

const section = new Section('ghost-group');
const GHOST = 'siem-export-ghost';
let e: E2E;

beforeAll(async () => {
  e = await startE2E('ghost', {
    replicas: 2,
    env: {
      recorder: { DRAIN_ABANDON_AFTER_MS: String(PROFILE.ghostAbandonMs), TRIM_TICK_MS: '0' },
      roller: { SWITCH_DRAIN_ABANDON_AFTER_MS: String(PROFILE.ghostAbandonMs) },
    },
  });
}, minutes(3));

afterAll(async () => {
  try {
    await e?.stop();
  } finally {
    await section.write();
  }
}, minutes(2));

it('retires STREAMS_HMAC_KEY once the ghost group is past the abandonment bound, with the group and its pending entries in the drain evidence', () =>
  section.run(async () => {
    const revoke = caracalStreams('').sessionsRevoke;
    const key = (await readFile(join(e.stack.secretsDir, 'streamsHmacKey'), 'utf8')).trim();
    await e.caracalRedis.xgroup('CREATE', revoke, GHOST, '$');
    for (let i = 0; i < 3; i++) await publishRevocationProbe(e.caracalRedis, caracalStreams(''), key);
    // The ghost takes the entries and is never heard of again.
    const taken = (await e.caracalRedis.xreadgroup('GROUP', GHOST, 'exporter-1', 'COUNT', 10, 'STREAMS', revoke, '>')) as [string, unknown[]][] | null;
    const pendingAtStart = taken?.[0]?.[1].length ?? 0;
    const ghostReadAt = Date.now();
    section.tried(
      `On two replicas of each service: created the group \`${GHOST}\` on Caracal's \`${revoke}\`, published ${pendingAtStart} revocations signed with Caracal's key, read them once as consumer \`exporter-1\` (so they are pending in that group) and never again; then requested STREAMS_HMAC_KEY, whose drain set is every group of every \`caracal.*\` stream. The recorder's DRAIN_ABANDON_AFTER_MS and the roller's SWITCH_DRAIN_ABANDON_AFTER_MS are ${seconds(PROFILE.ghostAbandonMs)} on this stack (10 minutes by default).`,
    );

    const rotation = await e.rotate({ material: 'STREAMS_HMAC_KEY', reason: 'reliability: ghost consumer group' }, minutes(2));
    const retiring = (await entriesOf(e.redis, e.operator.streams, rotation.id)).find((x) => x.name === 'retiring');
    const verifiedDeploy = (await entriesOf(e.redis, e.operator.streams, rotation.id)).find((x) => x.name === 'verified' && x.data.phase === 'deploy');
    await untilProjected(e.pool, rotation.id, ['completed', 'failed'], 60_000);
    const drains = await rotationDrains(e.pool, rotation.id);
    const ghost = drains.find((d) => d.stream === revoke && d.group === GHOST);
    const evidence = ((retiring?.data.drain ?? []) as { stream: string; group: string; pending: number; abandoned?: boolean }[]).find((d) => d.stream === revoke && d.group === GHOST);
    const stillPending = Number(((await e.caracalRedis.xpending(revoke, GHOST)) as [number])[0]);
    const rolledDeploy = (await entriesOf(e.redis, e.operator.streams, rotation.id)).find((x) => x.name === 'rolled' && x.data.phase === 'deploy');
    const switchDrain = rolledDeploy?.data.switch_drain as { waited_ms: number; drained: boolean; undrained: { stream: string; group: string; pending: number }[] } | undefined;
    const windowEnded = verifiedDeploy ? Date.parse(verifiedDeploy.fields.occurred_at!) + 500 : undefined;
    const retiredAt = retiring ? Number(retiring.id.split('-')[0]) : undefined;

    section
      .figure('STREAMS_HMAC_KEY rotation', rotation.outcome ?? 'no end')
      .figure('ghost group in the retiring event’s drain evidence', evidence ? `pending ${evidence.pending}, abandoned ${evidence.abandoned === true}` : 'absent')
      .figure('ghost group in rotation_drains', ghost ? `drained ${ghost.drained}, abandoned ${ghost.abandoned}, pending ${ghost.pending}, idle ${ghost.idleMs ?? '?'} ms` : 'absent')
      .figure('retiring published after the ghost’s last read', retiredAt ? seconds(retiredAt - ghostReadAt) : '—')
      .figure('retiring published after the window ended (held by the drain gate)', retiredAt && windowEnded ? seconds(retiredAt - windowEnded) : '—')
      .figure('entries still pending in the ghost group afterwards (the recorder reads, never acknowledges)', stillPending)
      .figure('the roller waited for the drain set before restarting the holders', switchDrain ? seconds(switchDrain.waited_ms) : 'no wait recorded')
      .figure('groups the roller found undrained when it switched', switchDrain?.undrained.map((u) => `${u.group} (pending ${u.pending})`).join('; ') || 'none')
      .figure('drain pairs recorded', drains.length)
      .figure('pairs abandoned', drains.filter((d) => d.abandoned).map((d) => `${d.stream} / ${d.group} (pending ${d.pending})`).join('; ') || 'none');
    section.table(
      'Drain evidence (rotation_drains)',
      ['stream', 'group', 'mark', 'pending', 'lag', 'drained', 'abandoned', 'idle ms'],
      drains.map((d) => [d.stream, d.group, d.mark, d.pending, d.lag, d.drained, d.abandoned, d.idleMs]),
    );
    section.note(
      "A group is abandoned when every consumer of it has been idle longer than DRAIN_ABANDON_AFTER_MS, or it has none (services/recorder/src/drain-gate.ts); the gate then stops waiting for it and keeps its pending count as evidence. Groups whose consumer is alive but behind still hold retirement. The gateway's per-host revocation groups that its restarts leave behind would be abandoned the same way once idle (here they had read past the mark: drained).",
    );
    expect(rotation.outcome).toBe('completed');
    expect(evidence).toMatchObject({ pending: pendingAtStart, abandoned: true });
    expect(ghost).toMatchObject({ abandoned: true, drained: false, pending: pendingAtStart });
    expect(retiredAt! - ghostReadAt).toBeGreaterThanOrEqual(PROFILE.ghostAbandonMs);
    expect(stillPending).toBe(pendingAtStart);
    // The ghost is idle past the bound, so the switch did not wait for it; every live group drained.
    expect(switchDrain).toMatchObject({ drained: true, undrained: [] });
  }), minutes(3));
