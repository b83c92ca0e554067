import { z } from 'zod';
import { envelopeSchema } from './envelope.js';
import { EVENT_DATA_SCHEMAS } from './events.js';
import { catalogSchema } from './catalog.js';
import { holdersConfigSchema } from './holders.js';
import { operatorRegistrySchema } from './operators.js';

/**
 * JSON Schema documents for every event payload, the envelope and the files
 * operators write (catalog, holders, operator registry),
 * so services written in Go or Python can validate our events. Committed under
 * `libs/contracts/json-schema/` and checked for drift by a test.
 */
export function jsonSchemaDocuments(): Record<string, unknown> {
  const docs: Record<string, unknown> = {
    'envelope.schema.json': z.toJSONSchema(envelopeSchema),
    'catalog.schema.json': z.toJSONSchema(catalogSchema, { io: 'input' }),
    'holders.schema.json': z.toJSONSchema(holdersConfigSchema, { io: 'input' }),
    'operators.schema.json': z.toJSONSchema(operatorRegistrySchema, { io: 'input' }),
  };
  for (const [name, schema] of Object.entries(EVENT_DATA_SCHEMAS)) {
    docs[`rotation.${name}.schema.json`] = {
      ...(z.toJSONSchema(schema) as object),
      title: `caracal.rotation.${name} data`,
    };
  }
  return docs;
}
