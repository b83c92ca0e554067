import { EXIT, requireServers } from '../environment.js';
import { intentReason, sendIntent } from '../intents.js';
import { rotationIdArg } from '../rotation-id.js';
import { secondsFlag, str, type Command } from './command.js';

export const rollbackCommand: Command = {
  name: 'rollback',
  summary: "ask for a rotation's rollback (inside its rollback window); the planner and secret-writer decide",
  usage: 'rollback ROTATION_ID --reason TEXT [--ticket T] [--timeout SECONDS]',
  details: `Publishes a rollback intent signed with your operator key. The planner checks that your
operator may roll back (operators.json) and that the rotation is in flight and can be rolled
back at all; the secret-writer then applies it only if retirement has not begun and the
rollback window (the safety window after the passing deploy verification) is still open.

What a rollback does depends on the material: most put the previous value back and restart
its holders; the admin token is rolled FORWARD to a fresh token (Caracal never un-revokes an
old one); the KEK keeps the new key as previous so nothing sealed under it is lost; zone
signing keys cannot be rolled back. The rotation then ends failed with rolled_back=true.

This command waits for the decision (default 30 s) and prints it; follow the rollback with
caracal-rotate watch ROTATION_ID.

Exit codes: 0 the rollback is under way, 1 refused (the reason is printed), 3 no answer.

Examples:
  caracal-rotate rollback 01936d3e-8f1a-7c2b-9a4d-0e5f6a7b8c9d --reason "gateway exchange errors after deploy"`,
  options: { reason: { type: 'string' }, ticket: { type: 'string' }, timeout: { type: 'string' } },
  positionals: ['ROTATION_ID'],
  required: 1,
  async run({ out, env, values, positionals }) {
    const id = rotationIdArg(positionals[0]);
    const reason = intentReason(str(values, 'reason'), 'rollback', id, 'gateway exchange errors after deploy');
    await requireServers(env, { redis: true });
    const { intentEventId, answer } = await sendIntent(env, id, 'rollback', reason, str(values, 'ticket'), secondsFlag(values, 'timeout', 30));
    out.result({ rotation_id: id, action: 'rollback', intent_event_id: intentEventId, ...answer });
    switch (answer.outcome) {
      case 'approved':
        out.line(answer.by === 'secret-writer' ? `Rollback of ${id} is under way: the secret-writer applied it.` : `Rollback of ${id} approved by the planner; the secret-writer has not answered yet.`);
        out.line(`  follow     caracal-rotate watch ${id}`);
        return EXIT.ok;
      case 'refused':
        out.error(`rollback of ${id} refused by the ${answer.by} (${answer.code}): ${answer.message}`, EXIT.failed);
        return EXIT.failed;
      default:
        out.error(`no answer to the rollback of ${id} yet: is the planner running? (caracal-rotate watch ${id} shows what happens)`, EXIT.timeout);
        return EXIT.timeout;
    }
  },
};
