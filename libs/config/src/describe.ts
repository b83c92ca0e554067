import { z } from 'zod';

/** One variable of a configuration schema, as the docs and `--help` show it. */
export interface VariableDoc {
  name: string;
  description: string;
  /** The default as text; undefined when the variable has none (optional or required). */
  default: string | undefined;
  required: boolean;
}

interface Def {
  type: string;
  defaultValue?: unknown;
  innerType?: Field;
  in?: Field;
}
type Field = z.ZodType & { _zod: { def: Def } };

/** Meta a field may carry beside its description: how to show a default computed per process. */
export interface ConfigMeta {
  defaultText?: string;
}

const textOf = (value: unknown): string => (Array.isArray(value) ? value.join(',') || '(empty)' : String(value));

/**
 * What each variable of a schema is, from its `.describe()` text and its
 * default, in the schema's order: docs/configuration.md and the CLI's help
 * are generated from it, so they cannot drift from what is parsed.
 */
export function describeConfig(schema: z.ZodObject): VariableDoc[] {
  return Object.entries(schema.shape).map(([name, shape]) => {
    let field = shape as Field;
    let description = field.description;
    let fallback: string | undefined;
    let optional = false;
    // Wrappers (default, optional, pipe) around the field's own type; the description may sit on any.
    for (;;) {
      fallback ??= (z.globalRegistry.get(field) as ConfigMeta | undefined)?.defaultText;
      const def = field._zod.def;
      if (def.type === 'default') fallback ??= textOf(def.defaultValue);
      else if (def.type === 'optional') optional = true;
      const inner = def.type === 'default' || def.type === 'optional' ? def.innerType : def.type === 'pipe' ? def.in : undefined;
      if (!inner) break;
      field = inner;
      description ??= field.description;
    }
    if (!description) throw new Error(`${name} has no description: give it .describe() (docs/configuration.md is generated from it)`);
    return { name, description, default: fallback, required: fallback === undefined && !optional };
  });
}
