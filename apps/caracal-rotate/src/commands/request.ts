import { EXIT, UsageError, requireServers } from '../environment.js';
import { uuidv7Time } from '../format.js';
import { connectOperator } from '../operator.js';
import { assertWellFormed, requestDataFrom } from '../request-data.js';
import { followRotation } from '../follow.js';
import { Timeline, reportOutcome } from '../timeline.js';
import { SELECTOR_OPTIONS, flag, secondsFlag, str, type Command } from './command.js';

export const requestCommand: Command = {
  name: 'request',
  summary: 'ask the pipeline to rotate a material; prints the rotation id (--wait follows it)',
  usage: 'request <MATERIAL> --reason TEXT [--zone Z]... [--role R] [--ticket T] [--emergency] [--dry-run] [--wait [--timeout SECONDS]]',
  details: `Publishes a caracal.rotation.requested event signed with your operator key
(CARACAL_OPERATOR_KEY_FILE, default operatorKey in the orchestrator's directory; see
caracal-rotate init) and prints the rotation id. The planner records the operator the key
belongs to (operators.json) as the actor, and refuses what that operator may not request.

Options:
  --reason TEXT     why (required; recorded with the rotation)
  --zone Z          zone of a ZONE_SIGNING_KEY; repeat for a batch (one rotation per zone);
                    --zone '*' means every zone
  --role R          Postgres role of a POSTGRES_PASSWORD (e.g. api)
  --ticket T        change ticket, recorded
  --emergency       material presumed compromised: no safety window
  --dry-run         plan and record only; nothing is written or restarted
  --wait            follow the rotation live until it ends, with the time each stage took
  --timeout S       with --wait: give up after S seconds (default 900; exit 3)

Exit codes with --wait: 0 completed (or planned, for a dry run), 1 failed, rejected,
abandoned or dead-lettered, 3 timeout.

Examples:
  caracal-rotate request AUDIT_HMAC_KEY --reason "quarterly rotation" --ticket OPS-42 --wait
  caracal-rotate request ZONE_SIGNING_KEY --zone z1 --zone z2 --reason "key compromise" --emergency
  caracal-rotate request POSTGRES_PASSWORD --role api --reason "staff change" --json`,
  options: { ...SELECTOR_OPTIONS, wait: { type: 'boolean' }, 'dry-run': { type: 'boolean' }, timeout: { type: 'string' } },
  positionals: ['MATERIAL'],
  required: 1,
  async run({ out, env, values, positionals }) {
    if (!str(values, 'reason')?.trim()) {
      throw new UsageError(
        `--reason is required: say why you rotate (it is recorded with the rotation), e.g. caracal-rotate request ${positionals[0]} --reason "quarterly rotation"`,
        EXIT.usage,
      );
    }
    const data = requestDataFrom(positionals[0]!, values);
    assertWellFormed(data);
    const wait = flag(values, 'wait');
    const timeoutMs = secondsFlag(values, 'timeout', 900);
    await requireServers(env, { redis: true });
    const operator = await connectOperator(env);
    try {
      const id = await operator.request(data);
      out.line(`rotation ${id} requested: ${data.material}${data.zone_id ? ` zone ${data.zone_id}` : ''}${data.zone_ids ? ` zones ${data.zone_ids.join(', ')}` : ''}${data.role ? ` role ${data.role}` : ''}, signed by key ${operator.kid}`);
      if (!wait) {
        out.line(`follow it with: caracal-rotate watch ${id}`);
        out.result({ rotation_id: id, stream: operator.streams.requested, request: data });
        return EXIT.ok;
      }
      const timeline = new Timeline(out, uuidv7Time(id) ?? Date.now(), id);
      const result = await followRotation(operator.redis, operator.streams, id, (e) => timeline.add(e), {
        timeoutMs,
        stopWhen: data.dry_run ? (e) => e.name === 'planned' : undefined,
      });
      const outcome = timeline.outcome(id, result);
      return reportOutcome(out, id, outcome, timeline, { stream: operator.streams.requested, request: data }, result.deadLettered);
    } finally {
      await operator.close();
    }
  },
};
