/** One forward-only schema change. Versions are applied in ascending order, each once. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  /** Unqualified names only: tests isolate themselves by search_path. */
  readonly sql: string;
}
