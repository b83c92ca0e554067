import { describe, expect, it } from 'vitest';
import { secretProblem } from './support.js';

describe('the secret detector the deploy tests use', () => {
  it('flags key material, passwords in URLs and literal secrets, and lets references pass', () => {
    expect(secretProblem('STREAMS_HMAC_KEY', 'ab'.repeat(32))).toBeDefined();
    expect(secretProblem('SOMETHING', '0123456789abcdef0123456789abcdef')).toBeDefined();
    expect(secretProblem('DATABASE_URL', 'postgres://app:hunter2@db:5432/x')).toBeDefined();
    expect(secretProblem('POSTGRES_PASSWORD', 'hunter2')).toBeDefined();
    expect(secretProblem('ADMIN_TOKEN', 'cat_Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MEFCQ0RFRg')).toBeDefined();

    expect(secretProblem('POSTGRES_PASSWORD', '${PG_PASSWORD:?set it}')).toBeUndefined();
    expect(secretProblem('DATABASE_URL', 'postgres://app:${PG_PASSWORD}@db:5432/x')).toBeUndefined();
    expect(secretProblem('REDIS_URL_FILE', '/etc/caracal-rotation/connections/REDIS_URL')).toBeUndefined();
    expect(secretProblem('CARACAL_SECRETS_DIR', '/var/lib/caracal/secrets')).toBeUndefined();
    expect(secretProblem('CARACAL_K8S_SECRET', 'caracal-runtime')).toBeUndefined();
    expect(secretProblem('CARACAL_ADMIN_SECRET', 'caracal-runtime')).toBeDefined();
    expect(secretProblem('NODE_EXTRA_CA_CERTS', '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt')).toBeUndefined();
  });
});
