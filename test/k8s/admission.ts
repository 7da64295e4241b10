// What a real API server enforces on the requests of this product, for the in-test emulation
// (emulator.ts), set up from the manifests the Helm chart renders:
//  - authorization (RBAC): a ServiceAccount may do what its RoleBindings' Roles grant, in
//    their namespace, nothing else (403 Forbidden, with the API server's message);
//  - Pod Security admission at the level the namespace's `pod-security.kubernetes.io/enforce`
//    label names ("restricted" or "baseline");
//  - LimitRange (type Container): defaults filled in, then min/max checked;
//  - ResourceQuota: object counts and compute requests/limits of non-terminal pods.
type Obj = Record<string, any>;

// ------------------------------------------------------------------ quantities

const SUFFIX: Record<string, number> = {
  n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
};

/** A Kubernetes resource quantity ("500m", "1Gi", "2") as a number. */
export function quantity(value: string | number): number {
  if (typeof value === 'number') return value;
  const m = /^([+-]?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)([a-zA-Z]*)$/.exec(value.trim());
  if (!m || !(m[2]! in SUFFIX)) throw new Error(`quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': "${value}"`);
  return Number(m[1]) * SUFFIX[m[2]!]!;
}

// ------------------------------------------------------------------ RBAC

export interface RequestAttributes {
  user: string;
  verb: string;
  namespace: string;
  /** "pods", or "pods/log" for a subresource. */
  resource: string;
  name?: string;
}

/** "system:serviceaccount:<ns>:<name>" as the API server names a ServiceAccount. */
export const serviceAccountUser = (namespace: string, name: string) => `system:serviceaccount:${namespace}:${name}`;

export class Rbac {
  constructor(private readonly manifests: Obj[]) {}

  allows(a: RequestAttributes): boolean {
    const bindings = this.manifests.filter((m) => m.kind === 'RoleBinding' && m.metadata?.namespace === a.namespace);
    for (const binding of bindings) {
      const bound = (binding.subjects ?? []).some(
        (s: Obj) => s.kind === 'ServiceAccount' && serviceAccountUser(s.namespace ?? binding.metadata.namespace, s.name) === a.user,
      );
      if (!bound || binding.roleRef?.kind !== 'Role') continue;
      const role = this.manifests.find((m) => m.kind === 'Role' && m.metadata?.namespace === a.namespace && m.metadata?.name === binding.roleRef.name);
      for (const rule of role?.rules ?? []) {
        const group = (rule.apiGroups ?? []).some((g: string) => g === '' || g === '*');
        const resource = (rule.resources ?? []).some((r: string) => r === a.resource || r === '*');
        const verb = (rule.verbs ?? []).some((v: string) => v === a.verb || v === '*');
        const named = !rule.resourceNames?.length || (a.name !== undefined && rule.resourceNames.includes(a.name));
        if (group && resource && verb && named) return true;
      }
    }
    return false;
  }

  static forbiddenMessage(a: RequestAttributes): string {
    const what = a.name ? `${a.resource.split('/')[0]} "${a.name}"` : a.resource;
    return `${what} is forbidden: User "${a.user}" cannot ${a.verb} resource "${a.resource}" in API group "" in the namespace "${a.namespace}"`;
  }
}

// ------------------------------------------------------------------ Pod Security admission

const RESTRICTED_VOLUMES = ['configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'persistentVolumeClaim', 'projected', 'secret'];

/** The violations of a Pod Security level ("privileged", "baseline", "restricted"), as the admission plugin words them. */
export function podSecurityViolations(level: string, pod: Obj): string[] {
  if (level === 'privileged') return [];
  const spec = pod.spec ?? {};
  const podSc = spec.securityContext ?? {};
  const containers: Obj[] = [...(spec.initContainers ?? []), ...(spec.containers ?? [])];
  const names = (list: Obj[]) => list.map((c) => `"${c.name}"`).join(', ');
  const out: string[] = [];
  // baseline
  if (spec.hostNetwork || spec.hostPID || spec.hostIPC) out.push('host namespaces (hostNetwork=true, hostPID=true or hostIPC=true)');
  const privileged = containers.filter((c) => c.securityContext?.privileged);
  if (privileged.length) out.push(`privileged (containers ${names(privileged)} must not set securityContext.privileged=true)`);
  const hostPath = (spec.volumes ?? []).filter((v: Obj) => v.hostPath);
  if (hostPath.length) out.push(`hostPath volumes (volumes ${hostPath.map((v: Obj) => `"${v.name}"`).join(', ')})`);
  const hostPorts = containers.filter((c) => (c.ports ?? []).some((p: Obj) => p.hostPort));
  if (hostPorts.length) out.push(`hostPort (containers ${names(hostPorts)} use hostPorts)`);
  if (level !== 'restricted') return out;
  // restricted
  const badVolumes = (spec.volumes ?? []).filter((v: Obj) => !Object.keys(v).some((k) => RESTRICTED_VOLUMES.includes(k)));
  if (badVolumes.length) out.push(`restricted volume types (volumes ${badVolumes.map((v: Obj) => `"${v.name}"`).join(', ')} use restricted volume types)`);
  const escalating = containers.filter((c) => c.securityContext?.allowPrivilegeEscalation !== false);
  if (escalating.length) out.push(`allowPrivilegeEscalation != false (containers ${names(escalating)} must set securityContext.allowPrivilegeEscalation=false)`);
  const caps = containers.filter((c) => !(c.securityContext?.capabilities?.drop ?? []).includes('ALL'));
  if (caps.length) out.push(`unrestricted capabilities (containers ${names(caps)} must set securityContext.capabilities.drop=["ALL"])`);
  const added = containers.filter((c) => (c.securityContext?.capabilities?.add ?? []).some((x: string) => x !== 'NET_BIND_SERVICE'));
  if (added.length) out.push(`unrestricted capabilities (containers ${names(added)} must not include capabilities other than NET_BIND_SERVICE in securityContext.capabilities.add)`);
  const nonRoot = containers.filter((c) => (c.securityContext?.runAsNonRoot ?? podSc.runAsNonRoot) !== true);
  if (nonRoot.length) out.push(`runAsNonRoot != true (pod or containers ${names(nonRoot)} must set securityContext.runAsNonRoot=true)`);
  const root = containers.filter((c) => (c.securityContext?.runAsUser ?? podSc.runAsUser) === 0);
  if (root.length) out.push(`runAsUser=0 (containers ${names(root)} must not set runAsUser=0)`);
  const seccomp = containers.filter((c) => !['RuntimeDefault', 'Localhost'].includes((c.securityContext?.seccompProfile ?? podSc.seccompProfile)?.type));
  if (seccomp.length) out.push(`seccompProfile (pod or containers ${names(seccomp)} must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")`);
  return out;
}

// ------------------------------------------------------------------ LimitRange

/** Applies the namespace's LimitRanges to a pod being created (defaults in place); returns the first refusal. */
export function applyLimitRanges(limitRanges: Obj[], pod: Obj): string | undefined {
  for (const lr of limitRanges) {
    for (const item of (lr.spec?.limits ?? []).filter((l: Obj) => l.type === 'Container')) {
      for (const c of pod.spec.containers ?? []) {
        c.resources ??= {};
        const limits = (c.resources.limits ??= {});
        const requests = (c.resources.requests ??= {});
        for (const [r, v] of Object.entries(item.default ?? {})) limits[r] ??= v;
        for (const [r, v] of Object.entries(item.defaultRequest ?? {})) requests[r] ??= v;
        for (const [r, v] of Object.entries(limits)) requests[r] ??= v; // a request defaults to its limit
        for (const [r, max] of Object.entries(item.max ?? {})) {
          if (limits[r] === undefined) return `maximum ${r} usage per Container is ${max}.  No limit is specified`;
          if (quantity(limits[r]) > quantity(max as string)) return `maximum ${r} usage per Container is ${max}, but limit is ${limits[r]}`;
        }
        for (const [r, min] of Object.entries(item.min ?? {})) {
          if (requests[r] !== undefined && quantity(requests[r]) < quantity(min as string)) return `minimum ${r} usage per Container is ${min}, but request is ${requests[r]}`;
        }
      }
    }
  }
  return undefined;
}

// ------------------------------------------------------------------ ResourceQuota

const COUNTED: Record<string, string> = { pods: 'pods', services: 'services', configmaps: 'configmaps', secrets: 'secrets' };
const TERMINAL = ['Succeeded', 'Failed'];

function podUsage(pod: Obj): Record<string, number> {
  const usage: Record<string, number> = {};
  for (const c of pod.spec?.containers ?? []) {
    for (const kind of ['requests', 'limits'] as const) {
      for (const [r, v] of Object.entries(c.resources?.[kind] ?? {})) {
        const key = `${kind}.${r}`;
        usage[key] = (usage[key] ?? 0) + quantity(v as string);
        if (kind === 'requests' && !r.includes('.')) usage[r] = (usage[r] ?? 0) + quantity(v as string); // "cpu" = "requests.cpu"
      }
    }
  }
  return usage;
}

/**
 * Admits one new object against the namespace's quotas, given the objects that exist there.
 * Terminal pods (Succeeded, Failed) count neither as pods nor for compute resources.
 */
export function quotaRefusal(quotas: Obj[], resource: string, object: Obj, existing: Record<string, Obj[]>): string | undefined {
  for (const quota of quotas) {
    const hard: Record<string, string> = quota.spec?.hard ?? {};
    const requested: Record<string, number> = {};
    const counted = COUNTED[resource];
    if (counted) {
      if (hard[counted] !== undefined) requested[counted] = 1;
      if (hard[`count/${counted}`] !== undefined) requested[`count/${counted}`] = 1;
    }
    if (resource === 'pods') {
      const usage = podUsage(object);
      const missing = Object.keys(hard).filter((k) => /^(requests|limits)\.|^(cpu|memory|ephemeral-storage)$/.test(k) && usage[k] === undefined);
      if (missing.length) return `failed quota: ${quota.metadata.name}: must specify ${missing.sort().join(',')}`;
      for (const k of Object.keys(hard)) if (usage[k] !== undefined) requested[k] = usage[k]!;
    }
    const used: Record<string, number> = {};
    const active = (existing.pods ?? []).filter((p) => !TERMINAL.includes(p.status?.phase));
    for (const k of Object.keys(requested)) {
      const count = COUNTED[k.replace(/^count\//, '')];
      if (count) used[k] = (count === 'pods' ? active : existing[count] ?? []).length;
      else used[k] = active.reduce((sum, p) => sum + (podUsage(p)[k] ?? 0), 0);
    }
    const over = Object.keys(requested).filter((k) => used[k]! + requested[k]! > quantity(hard[k]!) + 1e-9);
    if (over.length) {
      const fmt = (values: Record<string, number | string>) => over.map((k) => `${k}=${values[k]}`).join(',');
      return `exceeded quota: ${quota.metadata.name}, requested: ${fmt(requested)}, used: ${fmt(used)}, limited: ${fmt(hard)}`;
    }
  }
  return undefined;
}
