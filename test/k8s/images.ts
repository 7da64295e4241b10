// What is inside a container image, for the emulated kubelet: the executables it has, its
// ENTRYPOINT/CMD/PATH, and whether its entrypoint is an init (tini) that forwards signals
// and reaps zombies. The product's own images are read from their Dockerfiles in docker/
// (base image + apt packages + ENTRYPOINT/CMD); public base images are described here from
// their published Dockerfiles.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '#common/paths.js';

export interface ImageContents {
  /** Absolute paths of the executables the image has. */
  binaries: Set<string>;
  entrypoint: string[];
  cmd: string[];
  path: string[];
}

const DEFAULT_PATH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];
const DEBIAN = ['/bin/sh', '/bin/bash', '/bin/dash', '/usr/bin/env', '/bin/cat', '/bin/sleep', '/bin/ls'];

/** Public images the product builds on or tests name, as their own Dockerfiles define them. */
const BASE_IMAGES: [RegExp, () => ImageContents][] = [
  [/^(docker\.io\/(library\/)?)?debian:/, () => ({ binaries: new Set(DEBIAN), entrypoint: [], cmd: ['bash'], path: DEFAULT_PATH })],
  [
    /^(docker\.io\/(library\/)?)?node:/,
    () => ({ binaries: new Set([...DEBIAN, '/usr/local/bin/node', '/usr/local/bin/npm', '/usr/local/bin/docker-entrypoint.sh']), entrypoint: ['docker-entrypoint.sh'], cmd: ['node'], path: DEFAULT_PATH }),
  ],
  [
    /^(docker\.io\/(library\/)?)?python:/,
    () => ({ binaries: new Set([...DEBIAN, '/usr/local/bin/python3', '/usr/local/bin/python']), entrypoint: [], cmd: ['python3'], path: DEFAULT_PATH }),
  ],
];

/** Debian packages → the executables they install. */
const APT_BINARIES: Record<string, string[]> = {
  python3: ['/usr/bin/python3'],
  'python3-venv': [],
  tini: ['/usr/bin/tini', '/usr/bin/tini-static'],
  nodejs: ['/usr/bin/node'],
  bash: ['/bin/bash'],
  'ca-certificates': [],
};

function baseImage(ref: string): ImageContents | undefined {
  const found = BASE_IMAGES.find(([pattern]) => pattern.test(ref));
  return found?.[1]();
}

/** The final stage of a Dockerfile as image contents (ARGs with defaults substituted). */
export function imageFromDockerfile(file: string): ImageContents {
  const text = readFileSync(file, 'utf8').replace(/\\\n/g, ' ');
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const args: Record<string, string> = {};
  let image: ImageContents | undefined;
  const json = (rest: string) => (rest.startsWith('[') ? (JSON.parse(rest) as string[]) : ['/bin/sh', '-c', rest]);
  for (const line of lines) {
    const [instruction, ...restParts] = line.split(/\s+/);
    const rest = restParts.join(' ');
    switch (instruction!.toUpperCase()) {
      case 'ARG': {
        const [k, v] = rest.split('=');
        if (v !== undefined) args[k!] = v;
        break;
      }
      case 'FROM': {
        const ref = rest.split(/\s+/)[0]!.replace(/\$\{?(\w+)\}?/g, (_, k) => args[k] ?? '');
        image = baseImage(ref);
        if (!image) throw new Error(`${file}: no description of the base image ${ref} in test/k8s/images.ts`);
        break;
      }
      case 'RUN':
        for (const m of rest.matchAll(/apt-get install\s+([^&|;]+)/g)) {
          for (const pkg of m[1]!.split(/\s+/).filter((p) => p && !p.startsWith('-'))) {
            for (const bin of APT_BINARIES[pkg] ?? []) image!.binaries.add(bin);
          }
        }
        break;
      case 'ENTRYPOINT':
        image!.entrypoint = json(rest);
        image!.cmd = [];
        break;
      case 'CMD':
        image!.cmd = json(rest);
        break;
    }
  }
  if (!image) throw new Error(`${file}: no FROM`);
  return image;
}

/** The script runner image (docker/script-runner), the default image of script pods. */
export const scriptRunnerImage = () => imageFromDockerfile(join(PROJECT_ROOT, 'docker', 'script-runner', 'Dockerfile'));

/** Contents of a public image by reference, when described here. */
export const publicImage = baseImage;

/** Resolves a command name the way the container runtime does (PATH of the image; Debian's /bin is /usr/bin). */
export function resolveExecutable(image: ImageContents, command: string): string | undefined {
  const has = (path: string) => image.binaries.has(path) || image.binaries.has(path.replace(/^\/usr\/bin\//, '/bin/')) || image.binaries.has(path.replace(/^\/bin\//, '/usr/bin/'));
  if (command.includes('/')) return has(command) ? command : undefined;
  for (const dir of image.path) if (has(`${dir}/${command}`)) return `${dir}/${command}`;
  return undefined;
}

/** True for an init that forwards signals to its child and reaps zombies. */
export const isInit = (executable: string) => /\/tini(-static)?$/.test(executable);
