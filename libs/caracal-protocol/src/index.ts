/**
 * How Caracal's services sign what they exchange, for everyone who must
 * produce or check it: the sandbox fleet, and the verifier proving that new
 * material is accepted and old material refused (CARACAL-INTEROP.md).
 */
export {
  signGatewayExchange,
  gatewaySignatureBase,
  gatewaySignature,
  GATEWAY_HEADERS,
  GATEWAY_EXCHANGE_PATH,
  type GatewayExchangeRequest,
} from './gateway-exchange.js';
export { signAuditEvent, signAuditData, auditEventFields } from './audit-event.js';
export { revocationFields, fieldArgs, type SessionRevocation } from './revocation.js';
export { keyInvalidationFields } from './key-invalidation.js';
