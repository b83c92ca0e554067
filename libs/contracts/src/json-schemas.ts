import { z } from 'zod';
import { envelopeSchema } from './envelope.js';
import { EVENT_DATA_SCHEMAS } from './events.js';
import { catalogSchema } from './catalog.js';

/**
 * JSON Schema documents for every event payload, the envelope and the catalog,
 * so services written in Go or Python can validate our events. Committed under
 * `libs/contracts/json-schema/` and checked for drift by a test.
 */
export function jsonSchemaDocuments(): Record<string, unknown> {
  const docs: Record<string, unknown> = {
    'envelope.schema.json': z.toJSONSchema(envelopeSchema),
    'catalog.schema.json': z.toJSONSchema(catalogSchema, { io: 'input' }),
  };
  for (const [name, schema] of Object.entries(EVENT_DATA_SCHEMAS)) {
    docs[`rotation.${name}.schema.json`] = {
      ...(z.toJSONSchema(schema) as object),
      title: `caracal.rotation.${name} data`,
    };
  }
  return docs;
}
