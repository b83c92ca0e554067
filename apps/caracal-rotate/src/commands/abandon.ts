import { EXIT, requireServers } from '../environment.js';
import { intentReason, sendIntent } from '../intents.js';
import { rotationIdArg } from '../rotation-id.js';
import { secondsFlag, str, type Command } from './command.js';

export const abandonCommand: Command = {
  name: 'abandon',
  summary: 'give up a rotation in any state before it ends: frees its lock or queue place; touches no secret',
  usage: 'abandon ROTATION_ID --reason TEXT [--ticket T] [--timeout SECONDS]',
  details: `Publishes an abandon intent signed with your operator key. If your operator may abandon
(operators.json), the planner takes the rotation out of the queue, or frees the class lock it
holds so the next queued request goes ahead, and records it abandoned (terminal). A batch is
abandoned with every zone rotation still in flight.

It does NOT touch secrets: the store may hold the new value, the old one or both, and a
human decides which to keep (caracal-rotate status ROTATION_ID shows the kids and where they
live). The secret-writer refuses every later step of an abandoned rotation.

Exit codes: 0 abandoned, 1 refused (the reason is printed), 3 no answer.

Examples:
  caracal-rotate abandon 01936d3e-8f1a-7c2b-9a4d-0e5f6a7b8c9d --reason "roller host lost; finishing by hand (OPS-7)"`,
  options: { reason: { type: 'string' }, ticket: { type: 'string' }, timeout: { type: 'string' } },
  positionals: ['ROTATION_ID'],
  required: 1,
  async run({ out, env, values, positionals }) {
    const id = rotationIdArg(positionals[0]);
    const reason = intentReason(str(values, 'reason'), 'abandon', id, 'roller host lost');
    await requireServers(env, { redis: true });
    const { intentEventId, answer } = await sendIntent(env, id, 'abandon', reason, str(values, 'ticket'), secondsFlag(values, 'timeout', 30));
    out.result({ rotation_id: id, action: 'abandon', intent_event_id: intentEventId, ...answer });
    switch (answer.outcome) {
      case 'abandoned':
        out.line(`Abandoned rotation ${id} (it was ${answer.state.replace('_', ' ')}); no secret was touched.`);
        out.line(`  check      caracal-rotate status ${id}   (which values the store holds now)`);
        return EXIT.ok;
      case 'refused':
        out.error(`abandon of ${id} refused (${answer.code}): ${answer.message}`, EXIT.failed);
        return EXIT.failed;
      default:
        out.error(`no answer to the abandon of ${id} yet: is the planner running?`, EXIT.timeout);
        return EXIT.timeout;
    }
  },
};
