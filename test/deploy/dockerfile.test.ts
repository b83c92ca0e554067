import { describe, expect, it } from 'vitest';
import { SERVICES, isIgnored, parseDockerignore, repoFile, repositoryFiles, secretProblem } from './support.js';

interface Instruction {
  op: string;
  args: string;
}
interface Stage {
  base: string;
  name: string | undefined;
  instructions: Instruction[];
}

/** The Dockerfile as stages of instructions (continuation lines joined, comments dropped). */
function parseDockerfile(text: string): { args: Instruction[]; stages: Stage[] } {
  const logical: string[] = [];
  let current = '';
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if (current === '' && /^\s*#/.test(line)) continue;
    if (current !== '' && /^\s*#/.test(line)) continue;
    if (line.endsWith('\\')) {
      current += `${line.slice(0, -1)} `;
      continue;
    }
    current += line;
    if (current.trim() !== '') logical.push(current.trim());
    current = '';
  }
  const globalArgs: Instruction[] = [];
  const stages: Stage[] = [];
  for (const line of logical) {
    const [op = '', ...rest] = line.split(/\s+/);
    const instruction = { op: op.toUpperCase(), args: rest.join(' ') };
    if (instruction.op === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(instruction.args.replace(/--platform=\S+\s+/, ''));
      stages.push({ base: m?.[1] ?? '', name: m?.[2], instructions: [] });
    } else if (stages.length === 0) {
      globalArgs.push(instruction);
    } else {
      stages[stages.length - 1]!.instructions.push(instruction);
    }
  }
  return { args: globalArgs, stages };
}

const dockerfile = parseDockerfile(repoFile('Dockerfile'));
const { stages } = dockerfile;
const runtime = stages[stages.length - 1]!;
const ops = (stage: Stage, op: string) => stage.instructions.filter((i) => i.op === op);
const execForm = (args: string): string[] => JSON.parse(args.replace(/^CMD\s+/, '')) as string[];
/** The flags of each `npm ci` a RUN executes (quoted text, such as messages, ignored). */
const npmCiRuns = (stage: Stage): string[][] =>
  ops(stage, 'RUN').flatMap((r) =>
    [...r.args.replace(/"[^"]*"|'[^']*'/g, '').matchAll(/\bnpm ci\b((?:\s+--?[\w=.-]+)*)/g)].map((m) => m[1]!.trim().split(/\s+/).filter(Boolean)),
  );
const omitsDev = (flags: string[]) => flags.includes('--omit=dev') || flags.join(' ').includes('--omit dev');

describe('Dockerfile', () => {
  it('is multi-stage, with named stages', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const s of stages) expect(s.name, s.base).toBeTruthy();
    for (const s of stages) expect(s.base).toMatch(/node|\$\{NODE_IMAGE\}/);
    const nodeImage = dockerfile.args.find((a) => a.op === 'ARG' && a.args.startsWith('NODE_IMAGE='));
    // A supported Node LTS (Node 20 reached its end of life on 2026-04-30).
    if (nodeImage) expect(nodeImage.args).toMatch(/^NODE_IMAGE=node:(22|24)[.-]/);
  });

  it('compiles in a build stage, and ships compiled programs only: no node_modules, no TypeScript loader', () => {
    const build = stages.slice(0, -1);
    const buildStage = build.find((s) => npmCiRuns(s).some((flags) => !omitsDev(flags)));
    expect(buildStage, 'a build stage runs a full npm ci').toBeDefined();
    expect(ops(buildStage!, 'RUN').some((r) => /nx run-many -t typecheck build/.test(r.args)), 'the build stage type-checks and compiles').toBe(true);
    // The runtime image installs nothing and takes the compiled programs from the build stage.
    expect(npmCiRuns(runtime)).toEqual([]);
    const fromBuild = ops(runtime, 'COPY').filter((c) => /--from=(\S+)/.exec(c.args)?.[1] === buildStage!.name);
    expect(fromBuild.length).toBeGreaterThanOrEqual(1);
    for (const c of ops(runtime, 'COPY')) expect(c.args, c.args).not.toMatch(/node_modules|tools\/|test\//);
    const runtimeText = runtime.instructions.map((i) => `${i.op} ${i.args}`).join('\n');
    expect(runtimeText).not.toMatch(/\btsx\b|ts-node|esbuild/);
  });

  it('runs as a non-root user, in production mode, with a health check on /ready of HTTP_PORT', () => {
    const users = ops(runtime, 'USER');
    expect(users.length).toBeGreaterThanOrEqual(1);
    const user = users[users.length - 1]!.args.split(':')[0]!;
    const uidArg = ops(runtime, 'ARG').find((a) => user === `\${${a.args.split('=')[0]}}`);
    const uid = uidArg ? uidArg.args.split('=')[1]! : user;
    expect(uid).not.toMatch(/^(root|0)$/);
    expect(Number(uid)).toBeGreaterThan(0);

    const env = ops(runtime, 'ENV').map((e) => e.args).join(' ');
    expect(env).toMatch(/\bNODE_ENV=production\b/);
    expect(env).toMatch(/\bHTTP_HOST=0\.0\.0\.0\b/);

    const health = ops(runtime, 'HEALTHCHECK');
    expect(health).toHaveLength(1);
    expect(health[0]!.args).toContain('/ready');
    expect(health[0]!.args).toContain('HTTP_PORT');
    expect(health[0]!.args).toMatch(/--interval=\d+s/);
  });

  it('runs the compiled program named by its command with plain node', () => {
    const [entrypoint] = ops(runtime, 'ENTRYPOINT');
    expect(execForm(entrypoint!.args)).toEqual(['node']);
    const [cmd] = ops(runtime, 'CMD');
    const [program] = execForm(cmd!.args);
    expect(SERVICES.map((s) => `services/${s}/dist/main.js`)).toContain(program);
    const pkg = JSON.parse(repoFile(program!.replace(/dist\/main\.js$/, 'package.json'))) as { bundle?: Record<string, string> };
    expect(pkg.bundle?.['dist/main.js']).toBe('src/main.ts');
  });

  it('bakes no secret in', () => {
    for (const s of [{ instructions: dockerfile.args } as Stage, ...stages]) {
      for (const i of [...ops(s, 'ENV'), ...ops(s, 'ARG')]) {
        for (const pair of i.args.split(/\s+/)) {
          const [name = '', value] = pair.split('=');
          expect(secretProblem(name, value), pair).toBeUndefined();
        }
      }
      expect(ops(s, 'ADD').filter((a) => /https?:\/\//.test(a.args))).toEqual([]);
    }
  });
});

describe('.dockerignore', () => {
  const patterns = parseDockerignore(repoFile('.dockerignore'));
  const context = repositoryFiles().filter((f) => !isIgnored(patterns, f));
  const inContext = new Set(context);

  it('keeps what npm ci and the services need', () => {
    const root = JSON.parse(repoFile('package.json')) as { workspaces: string[] };
    const manifests = repositoryFiles().filter((f) => /(^|\/)package\.json$/.test(f));
    const workspaceManifests = manifests.filter((f) =>
      root.workspaces.some((w) => new RegExp(`^${w.replace('*', '[^/]+')}/package\\.json$`).test(f)),
    );
    expect(workspaceManifests.length).toBeGreaterThanOrEqual(SERVICES.length);
    for (const f of ['package.json', 'package-lock.json', 'tsconfig.base.json', ...workspaceManifests]) expect(inContext.has(f), f).toBe(true);
    for (const s of SERVICES) expect(inContext.has(`services/${s}/src/main.ts`), s).toBe(true);
    expect(inContext.has('apps/caracal-rotate/src/main.ts')).toBe(true);
    expect(inContext.has('apps/caracal-rotate/bin/caracal-rotate.js')).toBe(true);
    expect(inContext.has('scripts/bundle.mjs')).toBe(true);
  });

  it('leaves out tests, deployment files, version control and anything secret', () => {
    expect(context.filter((f) => /\.test\.ts$/.test(f))).toEqual([]);
    expect(context.filter((f) => f.startsWith('.git/') || f.startsWith('deploy/k8s/') || f.startsWith('deploy/compose/'))).toEqual([]);
    for (const f of ['node_modules/x/index.js', 'libs/bus/node_modules/x/index.js', 'deploy/.env', 'deploy/compose/.env', '.env', 'test/e2e/materials.test.ts', 'a/key.pem']) {
      expect(isIgnored(patterns, f), f).toBe(true);
    }
  });
});
