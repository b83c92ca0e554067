import { z } from 'zod';

/** Every class of secret material Caracal runs on, and the orchestrator's own bus key. */
export const MATERIALS = [
  'ZONE_KEK',
  'ZONE_SIGNING_KEY',
  'AUDIT_HMAC_KEY',
  'STREAMS_HMAC_KEY',
  'GATEWAY_STS_HMAC_KEY',
  'CARACAL_ADMIN_TOKEN',
  'CARACAL_COORDINATOR_TOKEN',
  'POSTGRES_PASSWORD',
  'REDIS_PASSWORD',
  'ROTATION_BUS_KEY',
] as const;

export const materialSchema = z.enum(MATERIALS);
export type Material = z.infer<typeof materialSchema>;

/** Caracal's code calls the key-encryption key SECRET_STORE_KEK; the docs call it ZONE_KEK. */
export const MATERIAL_ALIASES: Readonly<Record<string, Material>> = {
  SECRET_STORE_KEK: 'ZONE_KEK',
};

/** Canonical material name for a requested one, or undefined when unknown. */
export function normalizeMaterial(name: string): Material | undefined {
  const upper = name.trim().toUpperCase();
  const alias = MATERIAL_ALIASES[upper];
  if (alias) return alias;
  const parsed = materialSchema.safeParse(upper);
  return parsed.success ? parsed.data : undefined;
}
