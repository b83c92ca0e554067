import type { Signer } from '@caracal-rotation/bus';
import { SCHEDULE_ACTOR, type IntentAction, type Material, type OperatorEntry } from '@caracal-rotation/contracts';

export type Authorization = { ok: true; actor: string } | { ok: false; actor: string; message: string };

/** Who signed the entry: an operator by the registry's name, or the recorder's rotation policies (the bus key). */
function actorOf(signer: Signer): string {
  return signer.kind === 'operator' ? (signer.name ?? signer.kid) : SCHEDULE_ACTOR;
}

/** Whether the signer may request this material (and an emergency). Rotation policies may request any material, never an emergency. */
export function mayRequest(signer: Signer, operator: OperatorEntry | undefined, material: Material, emergency: boolean): Authorization {
  const actor = actorOf(signer);
  if (signer.kind === 'bus') return emergency ? { ok: false, actor, message: 'a scheduled request cannot be an emergency' } : { ok: true, actor };
  if (!operator) return { ok: false, actor, message: `operator ${actor} is no longer in the registry` };
  if (!operator.materials.includes('*') && !operator.materials.includes(material)) {
    return { ok: false, actor, message: `operator ${actor} may not request ${material} (allowed: ${operator.materials.join(', ')})` };
  }
  if (emergency && !operator.emergency) return { ok: false, actor, message: `operator ${actor} may not request an emergency rotation` };
  return { ok: true, actor };
}

/** Whether the operator may roll back or abandon a rotation. */
export function mayIntend(signer: Signer, operator: OperatorEntry | undefined, action: IntentAction): Authorization {
  const actor = actorOf(signer);
  if (!operator) return { ok: false, actor, message: `operator ${actor} is no longer in the registry` };
  if (!operator[action]) return { ok: false, actor, message: `operator ${actor} may not ${action} rotations` };
  return { ok: true, actor };
}
