export type { Phase, Plan } from '@caracal-rotation/contracts';

export interface MaterialRef {
  kid: string;
  location: string;
}
