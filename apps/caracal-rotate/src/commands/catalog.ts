import { safetyWindowOf } from '@caracal-rotation/contracts';
import { loadEffectiveCatalog } from '../catalog-source.js';
import { EXIT } from '../environment.js';
import { duration } from '../format.js';
import { rollOrder } from '../plan-report.js';
import type { Command } from './command.js';

export const catalogCommand: Command = {
  name: 'catalog',
  summary: 'the effective material catalog (CARACAL_CATALOG or the built-in one)',
  usage: 'catalog [--json]',
  details: `Per material: environment variable and file, format, overlap mode, writer, what a
request must name, the holders in roll order (bracketed holders restart together), the
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
      out.line(`  overlap     ${m.overlap}; writer ${m.writer}`);
      out.line(`  holders     ${rollOrder(m.holders)}`);
      for (const [role, holders] of Object.entries(m.holders_by_role ?? {})) out.line(`    role ${role.padEnd(8)}${rollOrder(holders)}`);
      out.line(`  checks      deploy: ${m.checks.deploy.join(', ') || '-'}; retire: ${m.checks.retire.join(', ') || '-'}`);
      const parts = Object.entries(m.window_parts ?? {}).map(([k, v]) => `${k} ${duration(v)}`);
      out.line(`  window      ${duration(safetyWindowOf(m))}${parts.length ? ` (${parts.join(' + ')})` : ''}`);
      out.line(`  drain       ${m.drain.map((d) => `${d.stream} / ${d.group}`).join(', ') || 'none'}${m.material === 'STREAMS_HMAC_KEY' ? ' (+ the rotation streams)' : ''}`);
      out.line(`  max age     ${m.max_age_ms ? duration(m.max_age_ms) : 'none'}`);
    }
    out.result({ source, catalog });
    return EXIT.ok;
  },
};
