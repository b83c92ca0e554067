import { caracalRequest, unexpectedAnswer } from './http.js';

/**
 * Mints a global admin token that can only read (apps/api/src/routes/admin-tokens.ts:
 * capability "read"; writes with it answer 403 admin_token_read_only). The
 * planner lists zones with it and holds no stronger Caracal credential. The
 * plaintext is returned once, by Caracal, and never stored by Caracal.
 */
export async function mintReadOnlyAdminToken(apiUrl: string, adminToken: string, name: string): Promise<{ id: string; token: string }> {
  const res = await caracalRequest('mintAdminToken', {
    baseUrl: apiUrl,
    headers: { authorization: `Bearer ${adminToken}` },
    body: JSON.stringify({ name, scope: 'global', capability: 'read' }),
  });
  if (res.status === 401) throw new Error('Caracal refused the admin token (401 invalid_admin_token)');
  const body = res.json as { id?: unknown; token?: unknown } | undefined;
  if (res.status !== 201 || typeof body?.token !== 'string' || typeof body.id !== 'string') throw unexpectedAnswer('mintAdminToken', res);
  return { id: body.id, token: body.token };
}
