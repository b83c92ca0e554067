import type { RedisClient } from '@caracal-rotation/bus';

/**
 * The one-class-at-a-time lock and its FIFO queue (DESIGN §2), kept in Redis
 * so every planner replica sees the same lock. All keys share one hash tag,
 * so the scripts stay single-slot on a Redis Cluster.
 *
 * The lock is a hash: `__class` names the class in flight; every other field
 * is a subject in flight (a zone, a role, or the material itself) mapped to
 * the rotation holding it. Scripts are idempotent per rotation or per
 * triggering event, so a retried planner gets the same answer.
 */
export interface LockSubject {
  subject: string;
  rotationId: string;
}

export interface QueueItem {
  rotation_id: string;
  class: string;
  joinable: boolean;
  holds: [subject: string, rotationId: string][];
  /** Everything needed to plan the request later. */
  request: unknown;
}

export type AcquireResult = { outcome: 'acquired' } | { outcome: 'duplicate'; subjects: string[] } | { outcome: 'queued'; position: number; waitingFor: string };

const ACQUIRE = `
local lock, queue, queued = KEYS[1], KEYS[2], KEYS[3]
local class, joinable, rid, item = ARGV[1], ARGV[2] == '1', ARGV[3], ARGV[4]
local held = redis.call('HGET', lock, '__class')
if held == class then
  local same = true
  for i = 5, #ARGV, 2 do
    if redis.call('HGET', lock, ARGV[i]) ~= ARGV[i + 1] then same = false break end
  end
  if same then return {'acquired'} end
end
if redis.call('SISMEMBER', queued, rid) == 1 then
  local items = redis.call('LRANGE', queue, 0, -1)
  for pos, raw in ipairs(items) do
    if cjson.decode(raw).rotation_id == rid then return {'queued', tostring(pos), held or ''} end
  end
end
if held == class or (held == false and redis.call('LLEN', queue) == 0) then
  local dups = {}
  if held == class then
    for i = 5, #ARGV, 2 do
      if redis.call('HEXISTS', lock, ARGV[i]) == 1 and #dups < 20 then table.insert(dups, ARGV[i]) end
    end
  end
  if #dups > 0 then return {'duplicate', cjson.encode(dups)} end
  if held == false or joinable then
    redis.call('HSET', lock, '__class', class)
    for i = 5, #ARGV, 2 do redis.call('HSET', lock, ARGV[i], ARGV[i + 1]) end
    return {'acquired'}
  end
end
redis.call('RPUSH', queue, item)
redis.call('SADD', queued, rid)
return {'queued', tostring(redis.call('LLEN', queue)), held or ''}`;

const RELEASE = `
local lock, queue, queued, handoff = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local subject, rid = ARGV[1], ARGV[2]
local done = redis.call('GET', handoff)
if done then return done end
if subject ~= '' and redis.call('HGET', lock, subject) == rid then redis.call('HDEL', lock, subject) end
if redis.call('HLEN', lock) <= 1 then redis.call('DEL', lock) end
local out = {}
while true do
  local head = redis.call('LINDEX', queue, 0)
  if not head then break end
  local item = cjson.decode(head)
  local held = redis.call('HGET', lock, '__class')
  if held and (held ~= item.class or not item.joinable) then break end
  local dup = false
  for _, h in ipairs(item.holds) do
    if redis.call('HEXISTS', lock, h[1]) == 1 then dup = true break end
  end
  if dup then break end
  redis.call('LPOP', queue)
  redis.call('SREM', queued, item.rotation_id)
  redis.call('HSET', lock, '__class', item.class)
  for _, h in ipairs(item.holds) do redis.call('HSET', lock, h[1], h[2]) end
  table.insert(out, head)
end
local result = '[' .. table.concat(out, ',') .. ']'
redis.call('SET', handoff, result, 'EX', 604800)
return result`;

export class ClassLock {
  private readonly keys: { lock: string; queue: string; queued: string; handoff: string };

  constructor(
    private readonly redis: RedisClient,
    prefix: string,
  ) {
    const tag = `{${prefix}}`;
    this.keys = { lock: `${tag}:lock`, queue: `${tag}:queue`, queued: `${tag}:queued`, handoff: `${tag}:handoff` };
  }

  async acquire(item: QueueItem): Promise<AcquireResult> {
    const reply = (await this.redis.eval(
      ACQUIRE,
      3,
      this.keys.lock,
      this.keys.queue,
      this.keys.queued,
      item.class,
      item.joinable ? '1' : '0',
      item.rotation_id,
      JSON.stringify(item),
      ...item.holds.flat(),
    )) as string[];
    if (reply[0] === 'acquired') return { outcome: 'acquired' };
    if (reply[0] === 'duplicate') return { outcome: 'duplicate', subjects: JSON.parse(reply[1]!) as string[] };
    return { outcome: 'queued', position: Number(reply[1]), waitingFor: reply[2] ?? '' };
  }

  /**
   * Frees a subject when its rotation ends and hands the lock to the queue's
   * head (and any followers of the same joinable class). The answer is stored
   * under the triggering event id, so a retry gets the same hand-off.
   */
  async release(triggerEventId: string, held: LockSubject | undefined): Promise<QueueItem[]> {
    const reply = (await this.redis.eval(
      RELEASE,
      4,
      this.keys.lock,
      this.keys.queue,
      this.keys.queued,
      `${this.keys.handoff}:${triggerEventId}`,
      held?.subject ?? '',
      held?.rotationId ?? '',
    )) as string;
    return JSON.parse(reply) as QueueItem[];
  }

  async snapshot(): Promise<{ class: string | null; subjects: Record<string, string>; queue: QueueItem[] }> {
    const [lock, queue] = await Promise.all([this.redis.hgetall(this.keys.lock), this.redis.lrange(this.keys.queue, 0, -1)]);
    const { __class, ...subjects } = lock;
    return { class: __class ?? null, subjects, queue: queue.map((q) => JSON.parse(q) as QueueItem) };
  }
}
