import { createHash } from 'node:crypto';
import { posix, relative, resolve, sep } from 'node:path';
import type { V1ConfigMap, V1ContainerPort, V1EnvVar, V1Pod, V1Secret, V1Service, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import type { LaunchSpec } from '../launch-spec.js';

/** Labels every script pod carries; the runtime finds its pods (and only them) by these. */
export const LABELS = {
  name: 'app.kubernetes.io/name',
  managedBy: 'app.kubernetes.io/managed-by',
  partOf: 'app.kubernetes.io/part-of',
  executionId: 'scriptorium.io/execution-id',
  /** On an interactive run's Service: the session it serves. */
  sessionId: 'scriptorium.io/session-id',
} as const;
export const MANAGED_SELECTOR = `${LABELS.name}=scriptorium-script,${LABELS.managedBy}=scriptorium`;
/** Annotation naming the execution-service replica that started the pod. */
export const INSTANCE_ANNOTATION = 'scriptorium.io/instance';
export const CONTAINER = 'script';
export const SCRIPT_DIR = '/scriptorium/script';
export const DATA_MOUNT = '/data';
export const RUN_AS = 10001;

export interface PodManifestOptions {
  namespace: string;
  /** Image used when the LaunchSpec names none. */
  defaultImage: string;
  /** Root of the projects' data directories on this side (DATA_DIR), to compute the PVC subPath. */
  dataRoot: string;
  /** PVC that holds dataRoot in the script namespace; none = the run gets an empty scratch folder. */
  dataPvc?: string;
  resources: { cpuRequest: string; cpuLimit: string; memoryRequest: string; memoryLimit: string; ephemeralStorageLimit: string };
  /** Pod's terminationGracePeriodSeconds (what a timeout by activeDeadlineSeconds gets). */
  terminationGraceSeconds: number;
  instanceId: string;
}

export interface RunObjects {
  pod: V1Pod;
  /** Carries the script (and the secret environment when there is one); created after the pod, owned by it. */
  payload: { kind: 'ConfigMap'; body: V1ConfigMap } | { kind: 'Secret'; body: V1Secret };
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

/** A DNS-1123 label for the run's pod (also the name of its ConfigMap/Secret and, later, its Service). */
export function podNameFor(executionId: string): string {
  const clean = executionId.toLowerCase().replace(/[^a-z0-9-]/g, '-').replace(/^-+|-+$/g, '');
  const name = `scr-${clean}`;
  if (name.length <= 63 && clean === executionId) return name;
  const hash = createHash('sha256').update(executionId).digest('hex').slice(0, 10);
  return `scr-${clean.slice(0, 47).replace(/-+$/, '')}-${hash}`;
}

/** A valid label value that identifies the execution (the id itself when it already is one). */
export function executionLabelValue(executionId: string): string {
  if (/^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/.test(executionId)) return executionId;
  return createHash('sha256').update(executionId).digest('hex').slice(0, 63);
}

export function runLabels(executionId: string): Record<string, string> {
  return {
    [LABELS.name]: 'scriptorium-script',
    [LABELS.managedBy]: 'scriptorium',
    [LABELS.partOf]: 'scriptorium',
    [LABELS.executionId]: executionLabelValue(executionId),
  };
}

/** subPath of the run's working directory inside the data PVC; throws when it lies outside the data root. */
export function dataSubPath(dataRoot: string, workingDir: string): string {
  const rel = relative(resolve(dataRoot), resolve(workingDir));
  if (rel === '' ) return '';
  if (rel.startsWith('..') || resolve(rel) === rel) throw new Error(`working directory ${workingDir} is outside the data root ${dataRoot}`);
  return rel.split(sep).join('/');
}

/**
 * The interpreter as the image runs it: its command name, resolved by the image's PATH.
 * The catalog names interpreters by their path on its own host (/usr/bin/python3, its own
 * node binary), which an image need not have (python images keep python3 in /usr/local/bin).
 */
export function podInterpreter(interpreter: string): string {
  return posix.basename(interpreter);
}

/**
 * The Pod of one run and the object that carries its script. Hardened to the "restricted"
 * Pod Security Standard, read-only root filesystem, no service-account token, no service
 * links, one container, `restartPolicy: Never`, `activeDeadlineSeconds` = the run's timeout.
 * Secret environment values go in a Secret referenced per variable (never in args).
 */
export function buildRunObjects(spec: LaunchSpec, options: PodManifestOptions): RunObjects {
  const name = podNameFor(spec.executionId);
  const labels = runLabels(spec.executionId);
  const fileName = posix.basename(spec.scriptPath.replaceAll('\\', '/')) || 'script';
  const image = spec.image || options.defaultImage;
  const secretNames = Object.keys(spec.env).sort();
  for (const key of secretNames) if (!ENV_NAME.test(key)) throw new Error(`environment variable name "${key}" is not valid`);
  const useSecret = secretNames.length > 0;

  // The run sees its project folder at /data: the standard `--data-dir` argument is rewritten to it.
  const args = spec.args.map((arg) => (arg === spec.workingDir ? DATA_MOUNT : arg));
  const env: V1EnvVar[] = [
    { name: 'HOME', value: '/tmp' },
    { name: 'TMPDIR', value: '/tmp' },
    { name: 'LANG', value: 'C.UTF-8' },
    { name: 'PYTHONUNBUFFERED', value: '1' },
    { name: 'PYTHONDONTWRITEBYTECODE', value: '1' },
    { name: 'SCRIPTORIUM_EXECUTION_ID', value: spec.executionId },
    ...secretNames.map((key) => ({ name: key, valueFrom: { secretKeyRef: { name, key: `env.${key}` } } })),
  ];
  // An interactive script serves its page on the session port, reached through its Service.
  const ports: V1ContainerPort[] = [];
  if (spec.session) {
    env.push({ name: 'SCRIPTORIUM_BIND_HOST', value: '0.0.0.0' });
    ports.push({ name: 'session', containerPort: spec.session.port, protocol: 'TCP' });
  }
  const volumes: V1Volume[] = [
    useSecret
      ? { name: 'script', secret: { secretName: name, defaultMode: 0o440, items: [{ key: 'script', path: fileName }] } }
      : { name: 'script', configMap: { name, defaultMode: 0o444, items: [{ key: 'script', path: fileName }] } },
    { name: 'tmp', emptyDir: { sizeLimit: '256Mi' } },
    options.dataPvc
      ? { name: 'data', persistentVolumeClaim: { claimName: options.dataPvc } }
      : { name: 'data', emptyDir: { sizeLimit: options.resources.ephemeralStorageLimit } },
  ];
  const dataMount: V1VolumeMount = { name: 'data', mountPath: DATA_MOUNT };
  if (options.dataPvc) {
    const subPath = dataSubPath(options.dataRoot, spec.workingDir);
    if (subPath) dataMount.subPath = subPath;
  }
  const pod: V1Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: options.namespace,
      labels,
      annotations: { [INSTANCE_ANNOTATION]: options.instanceId, 'scriptorium.io/execution-id': spec.executionId },
    },
    spec: {
      restartPolicy: 'Never',
      activeDeadlineSeconds: Math.max(1, Math.ceil(spec.timeoutSeconds)),
      terminationGracePeriodSeconds: options.terminationGraceSeconds,
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      securityContext: {
        runAsNonRoot: true,
        runAsUser: RUN_AS,
        runAsGroup: RUN_AS,
        fsGroup: RUN_AS,
        seccompProfile: { type: 'RuntimeDefault' },
      },
      containers: [
        {
          name: CONTAINER,
          image,
          imagePullPolicy: 'IfNotPresent',
          // `args` only: the image's ENTRYPOINT stays PID 1 (tini in the script runner), so the
          // script gets SIGTERM on cancel and timeout and zombies are reaped.
          args: [podInterpreter(spec.interpreter), `${SCRIPT_DIR}/${fileName}`, ...args],
          workingDir: DATA_MOUNT,
          env,
          ...(ports.length ? { ports } : {}),
          resources: {
            requests: { cpu: options.resources.cpuRequest, memory: options.resources.memoryRequest },
            limits: {
              cpu: options.resources.cpuLimit,
              memory: options.resources.memoryLimit,
              'ephemeral-storage': options.resources.ephemeralStorageLimit,
            },
          },
          securityContext: {
            runAsNonRoot: true,
            runAsUser: RUN_AS,
            readOnlyRootFilesystem: true,
            allowPrivilegeEscalation: false,
            privileged: false,
            capabilities: { drop: ['ALL'] },
            seccompProfile: { type: 'RuntimeDefault' },
          },
          volumeMounts: [
            { name: 'script', mountPath: SCRIPT_DIR, readOnly: true },
            { name: 'tmp', mountPath: '/tmp' },
            dataMount,
          ],
          terminationMessagePolicy: 'FallbackToLogsOnError',
        },
      ],
      volumes,
    },
  };
  const meta = { name, namespace: options.namespace, labels };
  if (useSecret) {
    const data: Record<string, string> = { script: Buffer.from(spec.scriptSource).toString('base64') };
    for (const key of secretNames) data[`env.${key}`] = Buffer.from(spec.env[key]!).toString('base64');
    return { pod, payload: { kind: 'Secret', body: { apiVersion: 'v1', kind: 'Secret', metadata: meta, type: 'Opaque', immutable: true, data } } };
  }
  return {
    pod,
    payload: { kind: 'ConfigMap', body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta, immutable: true, data: { script: spec.scriptSource } } },
  };
}

/**
 * The ClusterIP Service of an interactive run: selects its pod by execution id, exposes the
 * fixed session port, labelled with the session id. Created owned by the pod (ownedByPod),
 * so Kubernetes deletes it with the pod. The gateway proxies to `<name>.<namespace>.svc:<port>`.
 */
export function buildSessionService(spec: LaunchSpec, options: Pick<PodManifestOptions, 'namespace'>): V1Service | undefined {
  if (!spec.session) return undefined;
  const name = podNameFor(spec.executionId);
  const labels = runLabels(spec.executionId);
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name,
      namespace: options.namespace,
      labels: { ...labels, [LABELS.sessionId]: spec.session.sessionId },
    },
    spec: {
      type: 'ClusterIP',
      selector: { [LABELS.executionId]: labels[LABELS.executionId] },
      ports: [{ name: 'session', protocol: 'TCP', port: spec.session.port, targetPort: spec.session.port }],
    },
  };
}

/** The session's Service address inside the cluster, as the gateway proxy reaches it. */
export function sessionServiceAddress(executionId: string, namespace: string, port: number): string {
  return `${podNameFor(executionId)}.${namespace}.svc:${port}`;
}

/** Makes the payload owned by the created pod, so Kubernetes deletes it with the pod. */
export function ownedByPod<T extends V1ConfigMap | V1Secret | V1Service>(body: T, pod: V1Pod): T {
  return {
    ...body,
    metadata: {
      ...body.metadata,
      ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name: pod.metadata!.name!, uid: pod.metadata!.uid! }],
    },
  };
}
