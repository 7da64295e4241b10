import { KubeConfig } from '@kubernetes/client-node';
import type { LaunchSpec } from '../../apps/execution/src/runtime/launch-spec.js';
import type { RunExit } from '../../apps/execution/src/runtime/script-runtime.js';
import { KubernetesRuntime, type KubernetesRunObserver, type KubernetesRuntimeOptions } from '../../apps/execution/src/runtime/kubernetes/kubernetes.runtime.js';
import type { LogCursor } from '../../apps/execution/src/runtime/kubernetes/log-follower.js';

export const NAMESPACE = 'scriptorium-scripts';

/** A client configuration for the emulator, as the execution service's ServiceAccount (what the chart's Role grants). */
export function kubeConfigFor(emulator: { url: string; executionToken: string }): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'emulator', server: emulator.url, skipTLSVerify: true }],
    users: [{ name: 'execution', token: emulator.executionToken }],
    contexts: [{ name: 'emulator', cluster: 'emulator', user: 'execution', namespace: NAMESPACE }],
    currentContext: 'emulator',
  });
  return kc;
}

export const RESOURCES = { cpuRequest: '50m', cpuLimit: '500m', memoryRequest: '64Mi', memoryLimit: '256Mi', ephemeralStorageLimit: '512Mi' };

/** A runtime of replica-a against the emulator with short test timings; the caller closes it. */
export function testRuntime(emulator: { url: string; executionToken: string }, defaultImage: string, overrides: Partial<KubernetesRuntimeOptions> = {}): KubernetesRuntime {
  return new KubernetesRuntime(kubeConfigFor(emulator), {
    namespace: NAMESPACE,
    defaultImage,
    dataRoot: '/srv/data',
    dataPvc: 'scriptorium-data',
    resources: RESOURCES,
    terminationGraceSeconds: 1,
    instanceId: 'replica-a',
    finishedPodRetentionSeconds: 0,
    watchRestartSeconds: 60,
    logSettleMs: 300,
    ...overrides,
  });
}

let counter = 0;
export function launchSpec(source: string, overrides: Partial<LaunchSpec> = {}): LaunchSpec {
  counter++;
  const id = `${Date.now().toString(16)}-${process.pid}-${counter}-aaaa-bbbbcccc`;
  return {
    executionId: id,
    interpreter: 'python3',
    scriptPath: '/groups/demo/scripts/demo.py',
    scriptSource: source,
    args: ['--data-dir', '/srv/data/projects/u1/demo/default', '--user-level', 'operator'],
    env: {},
    workingDir: '/srv/data/projects/u1/demo/default',
    timeoutSeconds: 30,
    ...overrides,
  };
}

export interface RunResult {
  output: string;
  stderr: string;
  exit?: RunExit;
  failed?: string;
  events: string[];
  cursor?: LogCursor;
  runtimeRef?: string;
}

/** Starts a run and collects what the runtime reports; `done` resolves on exited/failedToStart. */
export function startRun(runtime: KubernetesRuntime, spec: LaunchSpec) {
  const result: RunResult = { output: '', stderr: '', events: [] };
  let resolveDone!: (r: RunResult) => void;
  const done = new Promise<RunResult>((resolve) => (resolveDone = resolve));
  let resolveStarted!: () => void;
  const started = new Promise<void>((resolve) => (resolveStarted = resolve));
  const observer = collector(result, resolveDone, resolveStarted);
  const handle = runtime.start(spec, observer);
  return { handle, done, started, result, waitFor: (text: string) => waitForOutput(result, text) };
}

export function collector(result: RunResult, resolveDone: (r: RunResult) => void, resolveStarted: () => void = () => {}): KubernetesRunObserver {
  return {
    started: (runtimeRef) => {
      result.events.push('started');
      result.runtimeRef = runtimeRef;
      resolveStarted();
    },
    stdout: (chunk) => (result.output += chunk),
    stderr: (chunk) => (result.stderr += chunk),
    logCursor: (cursor) => (result.cursor = cursor),
    exited: (exit) => {
      result.events.push('exited');
      result.exit = exit;
      resolveDone(result);
    },
    failedToStart: (message) => {
      result.events.push('failedToStart');
      result.failed = message;
      resolveDone(result);
    },
  };
}

async function waitForOutput(result: RunResult, text: string, timeoutMs = 10_000) {
  const until = Date.now() + timeoutMs;
  // Test-side wait on collected output (the runtime itself never polls).
  while (!result.output.includes(text)) {
    if (Date.now() > until) throw new Error(`timed out waiting for "${text}" in output:\n${result.output}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms))),
  ]);
}
