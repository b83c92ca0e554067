import { safetyWindowOf } from '@caracal-rotation/contracts';
import { loadEffectiveCatalog } from '../catalog-source.js';
import { EXIT } from '../environment.js';
import { duration } from '../format.js';
import type { Command } from './command.js';

/** Holders in roll order: groups separated by →, members of one group restart together. */
function rollOrder(holders: readonly { service: string; roll_group: number }[]): string {
  if (holders.length === 0) return 'none (nothing restarts)';
  const groups = new Map<number, string[]>();
  for (const h of [...holders].sort((a, b) => a.roll_group - b.roll_group)) groups.set(h.roll_group, [...(groups.get(h.roll_group) ?? []), h.service]);
  return [...groups.values()].map((g) => (g.length > 1 ? `[${g.join(' + ')}]` : g[0]!)).join(' → ');
}

export const catalogCommand: Command = {
  name: 'catalog',
  summary: 'the effective material catalog (CARACAL_CATALOG or the built-in one)',
  usage: 'catalog [--json]',
  details: `Per material: environment variable and file, format, overlap mode, writer, what a
request must name, the holders in roll order (bracketed holders restart together), what a
rollback does, the
checks of the deploy and retire verifications (the baseline checks run on top), the
safety window and where it comes from, the drain set and the maximum age.

Examples:
  caracal-rotate catalog
  CARACAL_CATALOG=./catalog.json caracal-rotate catalog --json`,
  options: {},
  positionals: [],
  required: 0,
  async run({ out, env }) {
    const { catalog, source } = await loadEffectiveCatalog(env);
    out.line(`Catalog: ${source} (version ${catalog.version}, ${catalog.materials.length} materials)`);
    for (const m of catalog.materials) {
      out.line('');
      out.line(`${m.material}`);
      out.line(`  env, file   ${m.env}, ${m.file ?? '(not a file)'}; format ${m.format}${m.needs !== 'nothing' ? `; needs a ${m.needs}` : ''}`);
      out.line(`  overlap     ${m.overlap}; writer ${m.writer}${m.store === 'rotation' ? " (in the orchestrator's own directory)" : ''}`);
      out.line(`  holders     ${rollOrder(m.holders)}`);
      for (const [role, r] of Object.entries(m.roles ?? {})) out.line(`    role ${role.padEnd(12)}${r.db_role}: ${rollOrder(r.holders)}`);
      out.line(`  rollback    ${m.rollback}: ${m.rollback_why}`);
      out.line(`  checks      deploy: ${m.checks.deploy.join(', ') || '-'}; retire: ${m.checks.retire.join(', ') || '-'}`);
      const parts = Object.entries(m.window_parts ?? {}).map(([k, v]) => `${k} ${duration(v)}`);
      out.line(`  window      ${duration(safetyWindowOf(m))}${parts.length ? ` (${parts.join(' + ')})` : ''}`);
      out.line(`  drain       ${m.drain.map((d) => `${d.stream} / ${d.group}`).join(', ') || 'none'}${m.drain_before_switch ? ' (before the switch)' : ''}`);
      for (const w of m.warnings) out.line(`  warning     ${w}`);
      out.line(`  max age     ${m.max_age_ms ? duration(m.max_age_ms) : 'none'}`);
    }
    out.result({ source, catalog });
    return EXIT.ok;
  },
};
