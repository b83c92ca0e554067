import type { RedisClient } from '@caracal-rotation/bus';
import { EVENT_NAMES, deadLetterStream, type RotationStreams } from '@caracal-rotation/contracts';
import type { Logger } from '@caracal-rotation/observability';
import { every, type Periodic } from './periodic.js';
import type { RecorderMetrics } from './recorder-metrics.js';

// Computes the trim point and trims in one atomic step, so no group can
// read, claim or be created between the two: MINID is the smallest of each
// group's oldest pending id and each group's last-delivered id + 1. Below it
// every entry was delivered to every group and acknowledged. A stream without
// groups is left alone: nothing says who still needs its entries (dead
// letters are evidence).
const TRIM_ACKNOWLEDGED = `
local groups = redis.pcall('XINFO', 'GROUPS', KEYS[1])
if type(groups) ~= 'table' or groups.err or #groups == 0 then return false end
local function parse(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
local function before(a, b)
  local am, as = parse(a)
  local bm, bs = parse(b)
  return am < bm or (am == bm and as < bs)
end
local minid = nil
for _, g in ipairs(groups) do
  local name, last
  for i = 1, #g, 2 do
    if g[i] == 'name' then name = g[i + 1] elseif g[i] == 'last-delivered-id' then last = g[i + 1] end
  end
  local pending = redis.call('XPENDING', KEYS[1], name)
  local candidate
  if pending[1] > 0 then
    candidate = pending[2]
  else
    local ms, seq = parse(last)
    candidate = string.format('%.0f-%.0f', ms, seq + 1)
  end
  if minid == nil or before(candidate, minid) then minid = candidate end
end
return {minid, redis.call('XTRIM', KEYS[1], 'MINID', minid)}`;

/** Trims one stream of the entries every one of its groups has acknowledged; answers how many went, or undefined (no groups). */
export async function trimAcknowledged(redis: RedisClient, stream: string): Promise<{ minId: string; trimmed: number } | undefined> {
  const reply = (await redis.eval(TRIM_ACKNOWLEDGED, 1, stream)) as [string, number] | null;
  return reply ? { minId: reply[0], trimmed: Number(reply[1]) } : undefined;
}

/** The orchestrator's rotation streams and their dead letter streams; never Caracal's. */
export const trimmableStreams = (streams: RotationStreams): string[] => EVENT_NAMES.flatMap((name) => [streams[name], deadLetterStream(streams[name])]);

export interface TrimDeps {
  redis: RedisClient;
  streams: RotationStreams;
  logger: Pick<Logger, 'debug' | 'warn'>;
  metrics?: Pick<RecorderMetrics, 'trimmedTotal'>;
}

/** One pass over every rotation stream. Returns the entries trimmed per stream. */
export async function trimRotationStreams(deps: TrimDeps): Promise<Map<string, number>> {
  const trimmed = new Map<string, number>();
  for (const stream of trimmableStreams(deps.streams)) {
    const result = await trimAcknowledged(deps.redis, stream);
    if (!result) continue;
    trimmed.set(stream, result.trimmed);
    if (result.trimmed > 0) {
      deps.metrics?.trimmedTotal.inc({ stream }, result.trimmed);
      deps.logger.debug({ stream, min_id: result.minId, trimmed: result.trimmed }, 'trimmed acknowledged entries');
    }
  }
  return trimmed;
}

/** The trimming timer; none when `tickMs` is 0 (disabled). */
export function startStreamTrimmer(deps: TrimDeps, tickMs: number): Periodic | undefined {
  if (tickMs <= 0) return undefined;
  return every(tickMs, () => trimRotationStreams(deps), (err) => deps.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'trimming failed; will retry'));
}
