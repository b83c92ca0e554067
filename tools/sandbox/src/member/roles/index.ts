import type { MemberName } from '../../members.js';
import type { RoleDefinition } from '../context.js';
import { apiRole } from './api.js';
import { auditRole } from './audit.js';
import { consoleRole } from './console.js';
import { coordinatorRole } from './coordinator.js';
import { gatewayRole } from './gateway.js';
import { stsRole } from './sts.js';

export const ROLES: Readonly<Record<MemberName, RoleDefinition>> = {
  api: apiRole,
  sts: stsRole,
  gateway: gatewayRole,
  audit: auditRole,
  coordinator: coordinatorRole,
  console: consoleRole,
};
