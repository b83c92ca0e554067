export interface Periodic {
  /** Stops scheduling and waits for a run in progress to finish. */
  stop(): Promise<void>;
}

/**
 * Runs `task` every `intervalMs`, never two runs at once: the next run is
 * scheduled when the previous one ends, so a slow run delays rather than
 * stacks. A failing run is reported and the schedule goes on.
 */
export function every(intervalMs: number, task: () => Promise<unknown>, onError: (err: unknown) => void): Periodic {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  const schedule = (): void => {
    timer = setTimeout(() => {
      running = task()
        .then(() => undefined, onError)
        .finally(() => {
          running = undefined;
          if (!stopped) schedule();
        });
    }, intervalMs);
  };
  schedule();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
