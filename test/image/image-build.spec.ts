// The app image builds, reproduced without a Docker engine: the Docker context is copied
// with docker/Dockerfile.dockerignore's rules applied, the build stage's steps run in that
// copy (the Dockerfile's own RUN line after `COPY . .`, so a change there is what is
// tested), the runtime stage's COPY --from=build lines assemble the image's /app, and the
// all-in-one is started from the result. The one stand-in: `npm ci` (which needs the
// registry) is replaced by hard links to this checkout's node_modules, installed from the
// same package-lock.json; `npm prune --omit=dev` then really runs on that copy.
//
// Run: npm run test:image (CI runs it after npm test)
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { PROJECT_ROOT } from '#common/paths.js';
import { freePort, waitFor } from '../harness/net.js';

const DOCKERFILE = join(PROJECT_ROOT, 'docker', 'Dockerfile');

/** Docker's .dockerignore semantics: root-relative patterns, `**` for any folders, `!` re-includes; a folder excluded excludes its content. */
export function dockerignore(text: string): (path: string) => boolean {
  const rules = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((line) => {
      const negate = line.startsWith('!');
      const pattern = (negate ? line.slice(1) : line).replace(/^\/+|\/+$/g, '');
      const source = pattern
        .split('/')
        .map((part) => (part === '**' ? '.*' : part.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')))
        .join('/')
        .replace(/\.\*\//g, '(?:.*/)?');
      return { negate, regex: new RegExp(`^${source}$`) };
    });
  return (path) => {
    const parts = path.split('/');
    let ignored = false;
    for (let i = 1; i <= parts.length; i++) {
      const prefix = parts.slice(0, i).join('/');
      for (const rule of rules) if (rule.regex.test(prefix)) ignored = !rule.negate;
      if (ignored) return true;
    }
    return ignored;
  };
}

function copyContext(target: string) {
  const ignored = dockerignore(readFileSync(`${DOCKERFILE}.dockerignore`, 'utf8'));
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      const rel = relative(PROJECT_ROOT, path);
      if (ignored(rel)) continue;
      if (statSync(path).isDirectory()) walk(path);
      else {
        mkdirSync(dirname(join(target, rel)), { recursive: true });
        cpSync(path, join(target, rel));
      }
    }
  };
  walk(PROJECT_ROOT);
}

interface Stage {
  name: string;
  lines: string[];
}

/** The Dockerfile's stages, each with its instructions (continuations joined). */
function stages(): Stage[] {
  const text = readFileSync(DOCKERFILE, 'utf8').replace(/\\\n/g, ' ');
  const out: Stage[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const from = /^FROM\s+\S+(?:\s+AS\s+(\S+))?/i.exec(line);
    if (from) out.push({ name: from[1] ?? String(out.length), lines: [] });
    else out.at(-1)?.lines.push(line);
  }
  return out;
}

function sh(command: string, cwd: string) {
  const r = spawnSync('/bin/sh', ['-c', command], { cwd, encoding: 'utf8', env: { ...process.env, npm_config_offline: 'true', npm_config_update_notifier: 'false' } });
  assert.equal(r.status, 0, `${command} failed in ${cwd}:\n${r.stdout}\n${r.stderr}`);
}

describe('the app image builds from the Docker context and starts', () => {
  let work = '';
  let app = '';

  before(() => {
    work = mkdtempSync(join(tmpdir(), 'scriptorium-image-'));
    const src = join(work, 'src');
    app = join(work, 'app');
    copyContext(src);
    const [build, runtime] = [stages().find((s) => s.name === 'build')!, stages().at(-1)!];
    assert.ok(build && runtime, 'a build stage and a runtime stage');
    // The build stage after `COPY . .`: its RUN lines (the toolchain install before it needs no reproducing).
    const afterCopy = build.lines.slice(build.lines.findIndex((l) => /^COPY\s+\.\s+\.$/.test(l)) + 1);
    assert.ok(build.lines.some((l) => /^RUN npm ci\b/.test(l)), 'the build stage installs with npm ci');
    sh(`cp -al '${join(PROJECT_ROOT, 'node_modules')}' node_modules`, src); // hard links: prune unlinks in the copy only
    for (const line of afterCopy.filter((l) => l.startsWith('RUN '))) sh(line.slice(4), src);
    // The runtime stage: COPY --from=build <src> <dest>.
    for (const line of runtime.lines) {
      const m = /^COPY\s+--from=build\s+(?:--\S+\s+)*(\S+)\s+(\S+)$/.exec(line);
      if (!m) continue;
      const from = join(src, m[1]!.replace(/^\/src\/?/, ''));
      const to = join(app, m[2]!.replace(/^\.\//, ''));
      mkdirSync(dirname(to), { recursive: true });
      sh(`cp -al '${from}' '${to}'`, work);
    }
  });

  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('the image holds the production build only: no specs, no test/ or bench/, no dev dependencies', () => {
    assert.ok(existsSync(join(app, 'dist', 'apps', 'all-in-one', 'src', 'main.js')));
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) walk(path);
        else files.push(relative(app, path));
      }
    };
    walk(join(app, 'dist'));
    assert.deepEqual(files.filter((f) => f.endsWith('.spec.js')), []);
    assert.ok(!existsSync(join(app, 'dist', 'test')) && !existsSync(join(app, 'dist', 'bench')));
    assert.ok(!existsSync(join(app, 'node_modules', 'playwright-core')) && !existsSync(join(app, 'node_modules', 'dependency-cruiser')), 'dev dependencies pruned');
    assert.ok(existsSync(join(app, 'node_modules', '@nestjs', 'core')));
  });

  test('the all-in-one starts from the image contents and answers /readyz', async () => {
    const port = await freePort();
    const data = join(work, 'data');
    const child = spawn(process.execPath, ['dist/apps/all-in-one/src/main.js'], {
      cwd: app,
      env: { PATH: process.env.PATH ?? '', HOME: work, NODE_ENV: 'production', PORT: String(port), HOST: '127.0.0.1', SCRIPTORIUM_DATA_DIR: data, SCRIPT_GROUPS_DIR: join(app, 'script_groups'), LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (c: Buffer) => (output += c));
    child.stderr!.on('data', (c: Buffer) => (output += c));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      await waitFor(
        async () => {
          if (child.exitCode !== null) throw new Error(`the all-in-one exited with ${child.exitCode}:\n${output}`);
          const res = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
          return res?.status === 200 ? true : undefined;
        },
        60_000,
        `the all-in-one built from the Docker context to be ready; output:\n${output}`,
      );
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  });
});
