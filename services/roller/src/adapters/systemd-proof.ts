/**
 * Reads the properties `systemctl show -p MainPID,ExecMainStartTimestamp <unit>`
 * prints, when a proof command's output has them, so that the exec adapter can
 * check more than a change: the unit has a main process, started after the write.
 *
 * systemd writes the timestamp in the local zone by default (`Tue 2026-05-05
 * 12:00:00 CEST`), which cannot be read without the zone database; run the
 * proof with `--timestamp=utc` (or `--timestamp=unix`) to have it checked.
 */
export interface SystemdProperties {
  /** MainPID, when printed. */
  mainPid?: number;
  /** ExecMainStartTimestamp as printed (without the key). */
  startText?: string;
  /** The start in epoch nanoseconds, when its zone could be read. */
  startNs?: bigint;
}

const UTC_OR_OFFSET = /^(?:\w{3} )?(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(\.\d{1,6})? (UTC|GMT|[+-]\d{2}:?\d{2})$/;

function parseTimestamp(text: string): bigint | undefined {
  const unix = /^@(\d+)(?:\.(\d{1,6}))?$/.exec(text);
  if (unix) return BigInt(unix[1]!) * 1_000_000_000n + BigInt((unix[2] ?? '').padEnd(9, '0'));
  const m = UTC_OR_OFFSET.exec(text);
  if (!m) return undefined;
  const [, day, time, fraction = '', zone] = m as unknown as [string, string, string, string | undefined, string];
  const offset = zone === 'UTC' || zone === 'GMT' ? 'Z' : `${zone.slice(0, 3)}:${zone.slice(-2)}`;
  const ms = Date.parse(`${day}T${time}${offset}`);
  if (Number.isNaN(ms)) return undefined;
  return BigInt(ms) * 1_000_000n + BigInt(fraction.slice(1).padEnd(9, '0'));
}

export function readSystemdProperties(output: string): SystemdProperties {
  const props: SystemdProperties = {};
  for (const line of output.split('\n')) {
    const [key, ...rest] = line.trim().split('=');
    const value = rest.join('=').trim();
    if (key === 'MainPID' && /^\d+$/.test(value)) props.mainPid = Number(value);
    if (key === 'ExecMainStartTimestamp') {
      props.startText = value;
      const ns = parseTimestamp(value);
      if (ns !== undefined) props.startNs = ns;
    }
  }
  return props;
}
