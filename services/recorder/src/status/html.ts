/** Markup that is already safe: produced by `html` or `raw`, never from a value. */
export class SafeHtml {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };

/** Escapes text for element content and quoted attribute values alike. */
export const escapeHtml = (value: string): string => value.replace(/[&<>"'`]/g, (c) => ENTITIES[c]!);

type Interpolation = SafeHtml | string | number | boolean | null | undefined | readonly Interpolation[];

function render(value: Interpolation): string {
  if (value === null || value === undefined || value === false) return '';
  if (value instanceof SafeHtml) return value.text;
  if (Array.isArray(value)) return value.map((v) => render(v as Interpolation)).join('');
  return escapeHtml(String(value));
}

/**
 * A template tag that escapes EVERY interpolated value unless it is itself
 * the result of `html` (or `raw`, for constant markup). Operator input
 * (reasons, actors, tickets) and anything read from the projection can only
 * ever reach the page as text.
 */
export function html(strings: TemplateStringsArray, ...values: Interpolation[]): SafeHtml {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i += 1) out += render(values[i]!) + strings[i + 1]!;
  return new SafeHtml(out);
}

/** Constant markup written in this code base (never a value from outside). */
export const raw = (markup: string): SafeHtml => new SafeHtml(markup);
