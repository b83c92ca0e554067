import { join } from 'node:path';
import { defaultOperatorName, initRotationDir, RotationDirError } from '@caracal-rotation/runtime';
import { EXIT, UsageError } from '../environment.js';
import { flag, str, type Command } from './command.js';

export const initCommand: Command = {
  name: 'init',
  summary: "create the orchestrator's keys and operator registry where missing (never overwrites)",
  usage: 'init [--operator NAME] [--zone-reader [--api-url URL]]',
  details: `Creates, in the orchestrator's own directory (CARACAL_ROTATION_DIR, else
$CARACAL_HOME/rotation, else ~/.local/share/caracal/rotation; mode 0700), whatever is missing:

  busKey          the key every internal event is signed with (the five services hold it;
                  Caracal never sees it)
  operatorKey     this operator's key: caracal-rotate signs requests and intents with it
                  (CARACAL_OPERATOR_KEY_FILE points elsewhere)
  operators.json  the registry of operators and their rights; created with this operator
                  (--operator, default user@host) allowed everything

An existing file is never overwritten. To add an operator, give them a key file in the
directory and an entry in operators.json (name, key_file, materials, emergency,
rollback, abandon); the planner re-reads the registry without a restart.

--zone-reader also mints a read-capability Caracal admin token (POST /v1/admin-tokens on
Caracal's API, with the admin token from the secrets directory) into zoneReaderToken: the
planner lists zones with it for --zone '*' and can change nothing in Caracal.

Options:
  --operator NAME   the operator this machine signs as (default user@host)
  --zone-reader     also mint the zone reader token
  --api-url URL     Caracal's API (default: the api service of CARACAL_HOLDERS)

Examples:
  caracal-rotate init
  caracal-rotate init --operator alice@ops --zone-reader`,
  options: { operator: { type: 'string' }, 'zone-reader': { type: 'boolean' }, 'api-url': { type: 'string' } },
  positionals: [],
  required: 0,
  async run({ out, env, values }) {
    const operator = str(values, 'operator') ?? defaultOperatorName();
    let zoneReader: { apiUrl: string; adminTokenFile: string } | undefined;
    if (flag(values, 'zone-reader')) {
      const apiUrl = str(values, 'api-url') ?? (await env.holders())?.services.api?.url;
      if (!apiUrl) throw new UsageError("--zone-reader needs Caracal's API: give --api-url or CARACAL_HOLDERS with an api service", EXIT.usage);
      zoneReader = { apiUrl, adminTokenFile: join(env.secretsDir, 'caracalAdminToken') };
    }
    let result;
    try {
      result = await initRotationDir({ rotationDir: env.rotationDir, secretsDir: env.secretsDir, operator, zoneReader });
    } catch (err) {
      if (err instanceof RotationDirError) throw new UsageError(err.message, EXIT.usage);
      throw err;
    }
    out.line(`orchestrator directory ${result.rotation_dir}`);
    for (const name of result.created) out.line(`  created  ${name}`);
    for (const name of result.kept) out.line(`  kept     ${name}`);
    for (const note of result.notes) out.line(`  note     ${note}`);
    out.result(result);
    return EXIT.ok;
  },
};
