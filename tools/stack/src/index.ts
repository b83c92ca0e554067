export { startStack, sandboxHolders, type Stack, type StackOptions } from './stack.js';
export { ensureSandboxSecrets } from '@caracal-rotation/sandbox';
