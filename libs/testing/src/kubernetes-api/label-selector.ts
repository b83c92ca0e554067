/**
 * The `labelSelector` query parameter as the API server reads it:
 * `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`, joined by commas.
 */
export type LabelRequirement = (labels: Record<string, string>) => boolean;

/** Splits on the commas that are not inside a `( … )` value set. */
function splitTerms(selector: string): string[] {
  const terms: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of selector) {
    if (ch === '(') depth += 1;
    if (ch === ')') depth -= 1;
    if (ch === ',' && depth === 0) {
      terms.push(current.trim());
      current = '';
    } else current += ch;
  }
  if (current.trim()) terms.push(current.trim());
  return terms;
}

const KEY = /^[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?$/;

function term(text: string): LabelRequirement {
  let m = /^(\S+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(text);
  if (m) {
    const [, key, op, list] = m as unknown as [string, string, string, string];
    const values = list.split(',').map((v) => v.trim());
    return op === 'in' ? (l) => key in l && values.includes(l[key]!) : (l) => !(key in l) || !values.includes(l[key]!);
  }
  m = /^([^!=\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(text);
  if (m) {
    const [, key, op, value] = m as unknown as [string, string, string, string];
    return op === '!=' ? (l) => l[key] !== value : (l) => l[key] === value;
  }
  if (text.startsWith('!') && KEY.test(text.slice(1))) return (l) => !(text.slice(1) in l);
  if (KEY.test(text)) return (l) => text in l;
  throw new Error(`unable to parse requirement: ${text}`);
}

/** A matcher for the selector; an empty selector matches everything. Throws on a selector the server would refuse. */
export function parseLabelSelector(selector: string | null): LabelRequirement {
  const requirements = splitTerms(selector ?? '').map(term);
  return (labels) => requirements.every((r) => r(labels));
}
