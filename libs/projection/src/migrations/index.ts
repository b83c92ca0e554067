import { tables } from './0001-tables.js';
import { views } from './0002-views.js';
import { lifecycleContract } from './0003-lifecycle-contract.js';
import type { Migration } from './migration.js';

export type { Migration } from './migration.js';

/** Every migration, oldest first. Append only: an applied migration is never edited. */
export const MIGRATIONS: readonly Migration[] = [tables, views, lifecycleContract];
