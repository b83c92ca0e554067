import type { RedisClient } from '@caracal-rotation/bus';
import { stateKeys, type PlanRef } from '@caracal-rotation/contracts';

/**
 * The one-class-at-a-time lock and its queue, kept in Redis so every planner
 * replica sees the same lock. All keys share one hash tag, so the scripts
 * stay single-slot on a Redis Cluster.
 *
 * - `lock` (hash): `__class` is the class in flight; every other field is a
 *   subject in flight (`material:X`, `role:R`, `zone:Z`, `zones:*`,
 *   `batch:<id>`) mapped to the rotation that holds it.
 * - `inflight` (hash): rotation id → what it holds (its subjects, batch, plan).
 * - `waiting` (set): rotations whose deploy passed; an emergency may start
 *   beside them.
 * - `queue` (list of rotation ids) with a small item per id: every script
 *   touches a constant amount per queued request, however big the request.
 */
export interface InFlight {
  subjects: string[];
  material: string;
  zone_id?: string;
  role?: string;
  batch_id?: string;
  plan?: PlanRef;
}

export interface QueueItem {
  rotation_id: string;
  class: string;
  /** Zone rotations of one class may run together. */
  joinable: boolean;
  emergency: boolean;
  /** Subjects to hold; those starting with `!` are only checked for conflicts. */
  subjects: string[];
  info: InFlight;
}

export type AcquireResult = { outcome: 'acquired' } | { outcome: 'duplicate'; subjects: string[] } | { outcome: 'queued'; position: number; waitingFor: string };

// Is every rotation in flight past its deploy (waiting out its window)?
const ALL_WAITING = `
local function all_waiting(inflight, waiting)
  local rids = redis.call('HKEYS', inflight)
  for _, r in ipairs(rids) do
    if redis.call('SISMEMBER', waiting, r) == 0 then return false end
  end
  return true
end`;

const HOLD = `
local function hold(lock, inflight, class, rid, subjects, info)
  redis.call('HSET', lock, '__class', class)
  for _, s in ipairs(subjects) do
    if string.sub(s, 1, 1) ~= '!' then redis.call('HSET', lock, s, rid) end
  end
  redis.call('HSET', inflight, rid, info)
end
local function conflicts(lock, rid, subjects)
  local dups = {}
  for _, s in ipairs(subjects) do
    local name = s
    if string.sub(s, 1, 1) == '!' then name = string.sub(s, 2) end
    local owner = redis.call('HGET', lock, name)
    if owner and owner ~= rid and #dups < 20 then table.insert(dups, name) end
  end
  return dups
end`;

const ACQUIRE = `${ALL_WAITING}${HOLD}
local lock, queue, inflight, waiting, item_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local item = cjson.decode(ARGV[1])
local rid = item.rotation_id
if redis.call('HEXISTS', inflight, rid) == 1 then return {'acquired'} end
local held = redis.call('HGET', lock, '__class')
if redis.call('EXISTS', item_key) == 1 then
  local pos = redis.call('LPOS', queue, rid)
  return {'queued', tostring((pos or 0) + 1), held or ''}
end
local dups = conflicts(lock, rid, item.subjects)
if #dups > 0 then return {'duplicate', cjson.encode(dups)} end
local can = false
if held == false and redis.call('LLEN', queue) == 0 then can = true
elseif held == item.class and item.joinable then can = true
elseif item.emergency and (held == false or all_waiting(inflight, waiting)) then can = true
end
if can then
  hold(lock, inflight, item.class, rid, item.subjects, cjson.encode(item.info))
  return {'acquired'}
end
redis.call('SET', item_key, ARGV[1])
if item.emergency then redis.call('LPUSH', queue, rid) else redis.call('RPUSH', queue, rid) end
local pos = redis.call('LPOS', queue, rid)
return {'queued', tostring(pos + 1), held or ''}`;

const RELEASE = `${ALL_WAITING}${HOLD}
local lock, queue, inflight, waiting, handoff = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local rid, item_prefix = ARGV[1], ARGV[2]
local done = redis.call('GET', handoff)
if done then return done end
local raw = redis.call('HGET', inflight, rid)
if raw then
  for _, s in ipairs(cjson.decode(raw).subjects) do
    if redis.call('HGET', lock, s) == rid then redis.call('HDEL', lock, s) end
  end
  redis.call('HDEL', inflight, rid)
  redis.call('SREM', waiting, rid)
end
if redis.call('HLEN', lock) <= 1 then redis.call('DEL', lock) end
local out = {}
while true do
  local head = redis.call('LINDEX', queue, 0)
  if not head then break end
  local text = redis.call('GET', item_prefix .. head)
  if not text then
    redis.call('LPOP', queue)
  else
    local item = cjson.decode(text)
    local held = redis.call('HGET', lock, '__class')
    local can = held == false or (held == item.class and item.joinable) or (item.emergency and all_waiting(inflight, waiting))
    if not can or #conflicts(lock, item.rotation_id, item.subjects) > 0 then break end
    redis.call('LPOP', queue)
    redis.call('DEL', item_prefix .. head)
    hold(lock, inflight, item.class, item.rotation_id, item.subjects, cjson.encode(item.info))
    table.insert(out, text)
  end
end
local result = '[' .. table.concat(out, ',') .. ']'
redis.call('SET', handoff, result, 'EX', 604800)
return result`;

// Adds subjects to a rotation that already holds the lock (the zones of a batch, chunk by chunk); returns those another rotation holds.
const ADD_SUBJECTS = `
local lock, inflight = KEYS[1], KEYS[2]
local taken = {}
for i = 1, #ARGV, 3 do
  local subject, rid, info = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local owner = redis.call('HGET', lock, subject)
  if owner and owner ~= rid then
    table.insert(taken, subject)
  elseif redis.call('HEXISTS', lock, 'zones:*') == 1 and string.sub(subject, 1, 5) == 'zone:' and redis.call('HGET', lock, 'zones:*') ~= cjson.decode(info).batch_id then
    table.insert(taken, subject)
  else
    redis.call('HSET', lock, subject, rid)
    redis.call('HSET', inflight, rid, info)
  end
end
return taken`;

const REMOVE_QUEUED = `
local queue, item_key = KEYS[1], KEYS[2]
if redis.call('EXISTS', item_key) == 0 then return 0 end
redis.call('DEL', item_key)
redis.call('LREM', queue, 0, ARGV[1])
return 1`;

export class ClassLock {
  private readonly keys;
  private readonly itemPrefix: string;

  constructor(
    private readonly redis: RedisClient,
    prefix: string,
  ) {
    const k = stateKeys(prefix);
    this.itemPrefix = k.queued('');
    this.keys = { lock: k.lock, queue: k.queue, inflight: `${k.lock}:inflight`, waiting: `${k.lock}:waiting`, handoff: k.handoff };
  }

  /** Holds the item's subjects, or queues it, or names the subjects already in flight. Idempotent per rotation. */
  async acquire(item: QueueItem): Promise<AcquireResult> {
    const { lock, queue, inflight, waiting } = this.keys;
    const reply = (await this.redis.eval(ACQUIRE, 5, lock, queue, inflight, waiting, this.itemPrefix + item.rotation_id, JSON.stringify(item))) as string[];
    if (reply[0] === 'acquired') return { outcome: 'acquired' };
    if (reply[0] === 'duplicate') return { outcome: 'duplicate', subjects: JSON.parse(reply[1]!) as string[] };
    return { outcome: 'queued', position: Number(reply[1]), waitingFor: reply[2] ?? '' };
  }

  /** Holds zone subjects for the children of a batch; returns the subjects another rotation holds (those children are duplicates). */
  async addSubjects(children: { subject: string; rotationId: string; info: InFlight }[]): Promise<Set<string>> {
    if (children.length === 0) return new Set();
    const args = children.flatMap((c) => [c.subject, c.rotationId, JSON.stringify(c.info)]);
    return new Set((await this.redis.eval(ADD_SUBJECTS, 2, this.keys.lock, this.keys.inflight, ...args)) as string[]);
  }

  /** Records what a rotation holds once its plan is stored. */
  async describe(rotationId: string, info: InFlight): Promise<void> {
    await this.redis.hset(this.keys.inflight, rotationId, JSON.stringify(info));
  }

  async inFlight(rotationId: string): Promise<InFlight | undefined> {
    const raw = await this.redis.hget(this.keys.inflight, rotationId);
    return raw ? (JSON.parse(raw) as InFlight) : undefined;
  }

  /** Every rotation in flight that belongs to a batch (an abandoned batch ends them all). */
  async childrenOf(batchId: string): Promise<string[]> {
    const out: string[] = [];
    let cursor = '0';
    do {
      const [next, flat] = await this.redis.hscan(this.keys.inflight, cursor, 'COUNT', 1000);
      for (let i = 0; i + 1 < flat.length; i += 2) if ((JSON.parse(flat[i + 1]!) as InFlight).batch_id === batchId) out.push(flat[i]!);
      cursor = next;
    } while (cursor !== '0');
    return out;
  }

  async isQueued(rotationId: string): Promise<boolean> {
    return (await this.redis.exists(this.itemPrefix + rotationId)) === 1;
  }

  /** Takes a queued request out of the queue; false when it was not queued. */
  async removeQueued(rotationId: string): Promise<boolean> {
    return (await this.redis.eval(REMOVE_QUEUED, 2, this.keys.queue, this.itemPrefix + rotationId, rotationId)) === 1;
  }

  /** Its deploy passed: an emergency may now start beside it. */
  async markWaiting(rotationId: string): Promise<void> {
    if (await this.redis.hexists(this.keys.inflight, rotationId)) await this.redis.sadd(this.keys.waiting, rotationId);
  }

  /**
   * Frees what a rotation holds when it ends and hands the lock to the
   * queue's head (and followers of the same joinable class). The answer is
   * stored under the triggering event id, so a retry gets the same hand-off.
   */
  async release(triggerEventId: string, rotationId: string): Promise<QueueItem[]> {
    const { lock, queue, inflight, waiting } = this.keys;
    const reply = (await this.redis.eval(RELEASE, 5, lock, queue, inflight, waiting, this.keys.handoff(triggerEventId), rotationId, this.itemPrefix)) as string;
    return JSON.parse(reply) as QueueItem[];
  }

  async snapshot(): Promise<{ class: string | null; subjects: Record<string, string>; queue: string[]; waiting: string[] }> {
    const [lock, queue, waiting] = await Promise.all([this.redis.hgetall(this.keys.lock), this.redis.lrange(this.keys.queue, 0, -1), this.redis.smembers(this.keys.waiting)]);
    const { __class, ...subjects } = lock;
    return { class: __class ?? null, subjects, queue, waiting };
  }
}
