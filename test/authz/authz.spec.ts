/**
 * Authorization matrix of the whole product, and hostile input.
 *
 * One real all-in-one process (`startAllInOneProcess`, the product as `npm start` runs it)
 * over a throw-away PostgreSQL (so the suite can read the signing key to forge expired
 * tokens, and count rows to prove bad requests changed nothing). Its private gRPC unix
 * sockets are reached by giving the process its own TMPDIR: the launcher puts its socket
 * directory (`scriptorium-XXXXXX/<service>.sock`) under os.tmpdir().
 *
 * The catalog reads a copy of script_groups/ plus test/authz/fixtures/script_groups (authz_sessions/hold.py:
 * an operator-level interactive script that only keeps its session open), so `operator` can own
 * interactive sessions; the example one (system_admin/notes_board.py) is admin-only.
 *
 * Every HTTP route is enumerated at run time from the OpenAPI document the gateway serves
 * (/api/docs-json), every gRPC method from the .proto files under proto/. Each must have a
 * row in the tables below, with the intended answer for every kind of caller; a route or
 * method without a row, or a row without a route, fails the suite by name.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { cpSync, mkdtempSync, readdirSync, existsSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { gunzipSync } from 'node:zlib';
import { join, resolve } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import jwt from 'jsonwebtoken';
import { createRequire } from 'node:module';
import WebSocket from 'ws';
import { ADMIN_PASSWORD, login, startAllInOneProcess, type RunningStack } from '../harness/stack.js';
import { startPostgres, type TestPostgres } from '../harness/postgres.js';

// pg ships no types and the project has no @types/pg: the little used here, typed here.
interface PgClient {
  connect(): Promise<void>;
  query(sql: string, params?: unknown[]): Promise<{ rows: any[] }>;
  end(): Promise<void>;
}
const pg = createRequire(import.meta.url)('pg') as { Client: new (options: { connectionString: string }) => PgClient };

const ROOT = resolve(import.meta.dirname, '../../..');
const PROTO_ROOT = join(ROOT, 'proto');
const PASSWORD = 'authz test password 1';
/** The example groups plus this suite's own (an operator-level interactive script), copied into one folder at start. */
const EXAMPLE_GROUPS = join(ROOT, 'script_groups');
const FIXTURE_GROUPS = join(ROOT, 'test/authz/fixtures/script_groups');

type Who = 'none' | 'viewer' | 'operator' | 'developer' | 'other' | 'admin';
/** `other` is a second operator: same level as the owner of the fixtures, not the owner. */
const CALLERS: Who[] = ['none', 'viewer', 'operator', 'developer', 'other', 'admin'];
type Expect = number | number[];
type Row = Record<Who, Expect>;

const G = grpc.status;
const row = (none: Expect, viewer: Expect, operator: Expect, developer: Expect, other: Expect, admin: Expect): Row => ({ none, viewer, operator, developer, other, admin });
// HTTP shorthands
const publicAll = (code: number) => row(code, code, code, code, code, code);
const signedIn = (code: number) => row(401, code, code, code, code, code);
const adminOnly = (code: number) => row(401, 403, 403, 403, 403, code);
/** Resources owned by `operator`: others are told they do not exist; admins see everything. */
const ownerOnly = (code: number, admin: Expect = code) => row(401, 404, code, 404, 404, admin);
/** Scripts of the getting_started group, required level operator. */
const operatorScripts = (code: number) => row(401, 404, code, code, code, code);
/** Metadata editing of an operator script: invisible to viewers (404), level developer to edit (403 below). */
const editors = (code: number) => row(401, 404, 403, code, 403, code);
/** Code sessions owned by `developer` (level developer to create them): others are told they do not exist. */
const developerOwned = (code: number, admin: Expect = code) => row(401, 404, 404, code, 404, admin);
/** Level developer first (403 below it, without looking the resource up), then the owner (`developer`) only. */
const developerOwnerOnly = (code: number) => row(401, 403, 403, code, 403, 403);
/** Two targets of a destructive row: the owner acts on the first, the admin on the second, the rest probe the first. */
const ownOrAdmin = <T>(who: Who, [owner, admin]: T[]) => (who === 'admin' ? admin : owner);
// gRPC shorthands
const gPublic = row(G.OK, G.OK, G.OK, G.OK, G.OK, G.OK);
const gSignedIn = (code: number = G.OK) => row(G.UNAUTHENTICATED, code, code, code, code, code);
const gAdminOnly = row(G.UNAUTHENTICATED, G.PERMISSION_DENIED, G.PERMISSION_DENIED, G.PERMISSION_DENIED, G.PERMISSION_DENIED, G.OK);
const gOwnerOnly = (admin: Expect = G.OK) => row(G.UNAUTHENTICATED, G.NOT_FOUND, G.OK, G.NOT_FOUND, G.NOT_FOUND, admin);
const gOperatorScripts = row(G.UNAUTHENTICATED, G.NOT_FOUND, G.OK, G.OK, G.OK, G.OK);
const gEditors = row(G.UNAUTHENTICATED, G.NOT_FOUND, G.PERMISSION_DENIED, G.OK, G.PERMISSION_DENIED, G.OK);
const gDeveloperOwned = (admin: Expect = G.OK) => row(G.UNAUTHENTICATED, G.NOT_FOUND, G.NOT_FOUND, G.OK, G.NOT_FOUND, admin);
const gDeveloperOwnerOnly = row(G.UNAUTHENTICATED, G.PERMISSION_DENIED, G.PERMISSION_DENIED, G.OK, G.PERMISSION_DENIED, G.PERMISSION_DENIED);
/** Credential-by-token methods: no bearer token needed, none accepted instead of the credential. */
const gByCredential = row(G.OK, G.OK, G.OK, G.OK, G.OK, G.OK);

interface Fixtures {
  tokens: Record<Exclude<Who, 'none'>, string>;
  ids: Record<Exclude<Who, 'none'>, string>;
  /** Users that admin-only routes act on, one per destructive route. */
  victims: Record<string, string>;
  /** A finished run of `operator`. */
  runId: string;
  /** Long runs of `operator`, cancelled by the matrix (HTTP, gRPC). */
  longRuns: string[];
  /** API tokens of `operator` (ids), revoked by the matrix. */
  operatorTokenIds: string[];
  /** A valid API token of `viewer` (secret). */
  viewerApiToken: string;
  /** The latest refresh token of `viewer`; the matrix's refresh rows rotate it. */
  refreshChain: string;
  /** Projects of `operator` in getting_started: the one read, renamed and written (with notes.txt), and ones to delete. */
  project: string;
  deleteProjects: { http: string[]; grpc: string[] };
  /** Files of `project` to delete: [by the owner, by the admin]. */
  deleteFiles: { http: string[]; grpc: string[] };
  /** Code sessions of `developer`: one per protocol to read, save and execute, and ones to delete. */
  codeSessions: { http: string; grpc: string; deleteHttp: string[]; deleteGrpc: string[] };
  /** Open interactive sessions of `operator` (authz_sessions/hold.py): one to use, ones to close. */
  sessions: { main: string; closeHttp: string[]; closeGrpc: string[] };
  /** Backups made by admin: one to read and verify, one to delete per protocol. */
  backups: { main: string; deleteHttp: string; deleteGrpc: string };
}

interface HttpCase {
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
}
interface HttpRow {
  request(who: Who, f: Fixtures): HttpCase | Promise<HttpCase>;
  expect: Row;
  /** Server-Sent Events: the status sent before the stream, or the one in its `error` event. */
  sse?: boolean;
  /** Callers one after another, in CALLERS order (the answer depends on what the previous one did). */
  sequential?: boolean;
}

let stack: RunningStack;
let postgres: TestPostgres;
let db: PgClient;
let grpcDir: string;
let tmp: string;
let f: Fixtures;
let seq = 0;
const unique = (prefix: string) => `${prefix}${Date.now().toString(36)}${seq++}`;

async function refreshTokenOf(username: string): Promise<string> {
  const res = await fetch(`${stack.url}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password: PASSWORD }),
  });
  return ((await res.json()) as { refreshToken: string }).refreshToken;
}

const HTTP: Record<string, HttpRow> = {
  'GET /healthz': { request: () => ({ path: '/healthz' }), expect: publicAll(200) },
  'GET /readyz': { request: () => ({ path: '/readyz' }), expect: publicAll(200) },
  // Public: an empty body is validated (400), never refused for want of a token (401).
  // Real sign-ins are covered by the gRPC rows and the set-up (each costs an argon2id hash).
  'POST /api/v1/auth/login': { request: () => ({ path: '/api/v1/auth/login', body: { username: '', password: '' } }), expect: publicAll(400) },
  // Each refresh rotates: the next caller presents the token the previous refresh returned.
  'POST /api/v1/auth/refresh': { request: (_, f) => ({ path: '/api/v1/auth/refresh', body: { refreshToken: f.refreshChain } }), expect: publicAll(200), sequential: true },
  'POST /api/v1/auth/logout': { request: () => ({ path: '/api/v1/auth/logout', body: { refreshToken: 'srt_not-a-real-one' } }), expect: signedIn(204) },
  'GET /api/v1/me': { request: () => ({ path: '/api/v1/me' }), expect: signedIn(200) },
  'PATCH /api/v1/me': { request: () => ({ path: '/api/v1/me', body: { theme: 'dark' } }), expect: signedIn(200) },
  // A wrong current password: proves the route is reachable without changing anything.
  'POST /api/v1/me/password': { request: () => ({ path: '/api/v1/me/password', body: { currentPassword: 'not the password', newPassword: 'short' } }), expect: signedIn(400) },
  'POST /api/v1/me/tokens': { request: (who) => ({ path: '/api/v1/me/tokens', body: { name: `matrix ${who}`, level: 'viewer', expiresInDays: 1 } }), expect: signedIn(201) },
  'GET /api/v1/me/tokens': { request: () => ({ path: '/api/v1/me/tokens' }), expect: signedIn(200) },
  'DELETE /api/v1/me/tokens/{id}': { request: (_, f) => ({ path: `/api/v1/me/tokens/${f.operatorTokenIds[0]}` }), expect: ownerOnly(204), sequential: true },
  'GET /api/v1/groups': { request: () => ({ path: '/api/v1/groups' }), expect: signedIn(200) },
  'GET /api/v1/groups/{groupId}/scripts': { request: () => ({ path: '/api/v1/groups/getting_started/scripts' }), expect: operatorScripts(200) },
  'GET /api/v1/scripts/{groupId}/{file}': { request: () => ({ path: '/api/v1/scripts/getting_started/greet.py' }), expect: operatorScripts(200) },
  'GET /api/v1/scripts/{scriptId}': { request: () => ({ path: '/api/v1/scripts/getting_started%2Fgreet.py' }), expect: operatorScripts(200) },
  'POST /api/v1/executions': { request: () => ({ path: '/api/v1/executions', body: { scriptId: 'getting_started/greet.py', parameters: { name: 'matrix' } } }), expect: operatorScripts(202) },
  'GET /api/v1/executions': { request: () => ({ path: '/api/v1/executions' }), expect: signedIn(200) },
  'GET /api/v1/executions/{id}': { request: (_, f) => ({ path: `/api/v1/executions/${f.runId}` }), expect: ownerOnly(200) },
  // The owner cancels first; the admin then finds it ended (409) or still stopping (202).
  'POST /api/v1/executions/{id}/cancel': { request: (_, f) => ({ path: `/api/v1/executions/${f.longRuns[0]}/cancel` }), expect: ownerOnly(202, [202, 409]), sequential: true },
  'GET /api/v1/executions/{id}/log': { request: (_, f) => ({ path: `/api/v1/executions/${f.runId}/log` }), expect: ownerOnly(200) },
  'GET /api/v1/executions/{id}/events': { request: (_, f) => ({ path: `/api/v1/executions/${f.runId}/events` }), expect: ownerOnly(200), sse: true },
  'POST /api/v1/users': { request: () => ({ path: '/api/v1/users', body: { username: unique('az-new-'), password: PASSWORD, level: 'viewer' } }), expect: adminOnly(201) },
  'GET /api/v1/users': { request: () => ({ path: '/api/v1/users' }), expect: adminOnly(200) },
  'GET /api/v1/users/{id}': { request: (_, f) => ({ path: `/api/v1/users/${f.ids.viewer}` }), expect: adminOnly(200) },
  'PATCH /api/v1/users/{id}': { request: (_, f) => ({ path: `/api/v1/users/${f.victims.patch}`, body: { email: 'patched@example.com' } }), expect: adminOnly(200) },
  'POST /api/v1/users/{id}/deactivate': { request: (_, f) => ({ path: `/api/v1/users/${f.victims.patch}/deactivate` }), expect: adminOnly(200) },
  'POST /api/v1/users/{id}/activate': { request: (_, f) => ({ path: `/api/v1/users/${f.victims.patch}/activate` }), expect: adminOnly(200) },
  'DELETE /api/v1/users/{id}': { request: (_, f) => ({ path: `/api/v1/users/${f.victims.delete}` }), expect: adminOnly(204) },
  'POST /api/v1/users/{id}/password': { request: (_, f) => ({ path: `/api/v1/users/${f.victims.patch}/password`, body: { newPassword: 'reset password 123' } }), expect: adminOnly(204) },
  'POST /api/v1/users/{id}/unlock': { request: (_, f) => ({ path: `/api/v1/users/${f.victims.patch}/unlock` }), expect: adminOnly(200) },
  // The tokens of `operator`: admins, and operator themselves (the same as /me/tokens).
  'GET /api/v1/users/{id}/tokens': { request: (_, f) => ({ path: `/api/v1/users/${f.ids.operator}/tokens` }), expect: row(401, 403, 200, 403, 403, 200) },
  'DELETE /api/v1/users/{id}/tokens/{tokenId}': { request: (_, f) => ({ path: `/api/v1/users/${f.ids.operator}/tokens/${f.operatorTokenIds[1]}` }), expect: row(401, 403, 204, 403, 403, 204), sequential: true },
  'GET /api/v1/audit': { request: () => ({ path: '/api/v1/audit' }), expect: adminOnly(200) },

  // Catalog search and personal tags: only scripts the caller's level sees; a group above it is 404.
  'GET /api/v1/scripts': { request: () => ({ path: '/api/v1/scripts?group=getting_started&q=greet' }), expect: operatorScripts(200) },
  'GET /api/v1/tags': { request: () => ({ path: '/api/v1/tags' }), expect: signedIn(200) },
  'GET /api/v1/scripts/{groupId}/{file}/docs': { request: () => ({ path: '/api/v1/scripts/getting_started/greet.py/docs' }), expect: operatorScripts(200) },
  'GET /api/v1/scripts/{groupId}/{file}/tags': { request: () => ({ path: '/api/v1/scripts/getting_started/greet.py/tags' }), expect: operatorScripts(200) },
  'PUT /api/v1/scripts/{groupId}/{file}/tags': { request: (who) => ({ path: '/api/v1/scripts/getting_started/greet.py/tags', body: { tags: [`mine-${who}`] } }), expect: operatorScripts(200) },
  // Metadata editing (developer, admin) on word_stats.js; reparse and revert to 0 leave it as the header says.
  'PATCH /api/v1/scripts/{groupId}/{file}/metadata': {
    request: (who) => ({ path: '/api/v1/scripts/getting_started/word_stats.js/metadata', body: { tags: ['authz-matrix'], comment: `matrix ${who}` } }),
    expect: editors(200),
  },
  'GET /api/v1/scripts/{groupId}/{file}/metadata/versions': { request: () => ({ path: '/api/v1/scripts/getting_started/word_stats.js/metadata/versions' }), expect: editors(200) },
  'POST /api/v1/scripts/{groupId}/{file}/metadata/versions/{version}/revert': {
    request: (who) => ({ path: '/api/v1/scripts/getting_started/word_stats.js/metadata/versions/0/revert', body: { comment: `matrix ${who}` } }),
    expect: editors(201),
  },
  'POST /api/v1/scripts/{groupId}/{file}/metadata/reparse': {
    request: (who) => ({ path: '/api/v1/scripts/getting_started/word_stats.js/metadata/reparse', body: { comment: `matrix ${who}` } }),
    expect: editors(201),
  },

  // Every user's live run changes: admins only (the error arrives as the stream's `error` event).
  'GET /api/v1/executions/live': { request: () => ({ path: '/api/v1/executions/live?allUsers=true' }), expect: adminOnly(200), sse: true },
  // The owner re-runs it. An admin sees the run, so the answer is a run (in the admin's own project) or a clear
  // refusal, never "not found" for a run they can read.
  'POST /api/v1/executions/{id}/rerun': { request: (_, f) => ({ path: `/api/v1/executions/${f.runId}/rerun`, body: {} }), expect: ownerOnly(202, [202, 403]) },

  // Projects of `operator`: others are told they do not exist; admins see and manage them (but run only in their own).
  'GET /api/v1/projects': { request: (_, f) => ({ path: `/api/v1/projects?userId=${f.ids.operator}` }), expect: row(401, 403, 200, 403, 403, 200) },
  'POST /api/v1/projects': { request: () => ({ path: '/api/v1/projects', body: { groupId: 'getting_started', name: unique('matrix ') } }), expect: operatorScripts(201) },
  'GET /api/v1/projects/active': { request: () => ({ path: '/api/v1/projects/active?groupId=getting_started' }), expect: signedIn(200) },
  'PUT /api/v1/projects/active': { request: (_, f) => ({ path: '/api/v1/projects/active', body: { groupId: 'getting_started', projectId: f.project } }), expect: row(401, 404, 200, 404, 404, 404) },
  'GET /api/v1/projects/{id}': { request: (_, f) => ({ path: `/api/v1/projects/${f.project}` }), expect: ownerOnly(200) },
  'PATCH /api/v1/projects/{id}': { request: (who, f) => ({ path: `/api/v1/projects/${f.project}`, body: { name: `renamed by ${who}` } }), expect: ownerOnly(200) },
  'DELETE /api/v1/projects/{id}': { request: (who, f) => ({ path: `/api/v1/projects/${ownOrAdmin(who, f.deleteProjects.http)}` }), expect: ownerOnly(204) },
  'GET /api/v1/projects/{id}/files': { request: (_, f) => ({ path: `/api/v1/projects/${f.project}/files` }), expect: ownerOnly(200) },
  'GET /api/v1/projects/{id}/files/{path}': { request: (_, f) => ({ path: `/api/v1/projects/${f.project}/files/notes.txt` }), expect: ownerOnly(200) },
  'PUT /api/v1/projects/{id}/files/{path}': {
    request: (who, f) => ({ path: `/api/v1/projects/${f.project}/files/uploads/${who}.txt`, body: `from ${who}`, headers: { 'content-type': 'text/plain' } }),
    expect: ownerOnly(200),
  },
  'DELETE /api/v1/projects/{id}/files/{path}': { request: (who, f) => ({ path: `/api/v1/projects/${f.project}/files/${ownOrAdmin(who, f.deleteFiles.http)}` }), expect: ownerOnly(204) },

  // Code sessions: level developer to create, save and execute (only the owner's own); owner and admins see them.
  'POST /api/v1/code-sessions': { request: (who) => ({ path: '/api/v1/code-sessions', body: { name: `matrix ${who}`, language: 'python', source: 'print(1)' } }), expect: row(401, 403, 403, 201, 403, 201) },
  'GET /api/v1/code-sessions': { request: () => ({ path: '/api/v1/code-sessions?allUsers=true' }), expect: adminOnly(200) },
  'GET /api/v1/code-sessions/{id}': { request: (_, f) => ({ path: `/api/v1/code-sessions/${f.codeSessions.http}` }), expect: developerOwned(200) },
  'PATCH /api/v1/code-sessions/{id}': { request: (_, f) => ({ path: `/api/v1/code-sessions/${f.codeSessions.http}`, body: { baseVersion: 1, source: 'print(2)' } }), expect: developerOwnerOnly(200) },
  'DELETE /api/v1/code-sessions/{id}': { request: (who, f) => ({ path: `/api/v1/code-sessions/${ownOrAdmin(who, f.codeSessions.deleteHttp)}` }), expect: developerOwned(204) },
  'POST /api/v1/code-sessions/{id}/execute': { request: (_, f) => ({ path: `/api/v1/code-sessions/${f.codeSessions.http}/execute`, body: {} }), expect: developerOwnerOnly(202) },
  'GET /api/v1/code-sessions/{id}/executions': { request: (_, f) => ({ path: `/api/v1/code-sessions/${f.codeSessions.http}/executions` }), expect: developerOwned(200) },

  // Interactive sessions of `operator`: owner and admins; everyone's list for admins.
  'GET /api/v1/sessions': { request: () => ({ path: '/api/v1/sessions?all=true' }), expect: adminOnly(200) },
  'GET /api/v1/sessions/{id}': { request: (_, f) => ({ path: `/api/v1/sessions/${f.sessions.main}` }), expect: ownerOnly(200) },
  'DELETE /api/v1/sessions/{id}': { request: (who, f) => ({ path: `/api/v1/sessions/${ownOrAdmin(who, f.sessions.closeHttp)}` }), expect: ownerOnly(200) },
  'POST /api/v1/sessions/{id}/heartbeat': { request: (_, f) => ({ path: `/api/v1/sessions/${f.sessions.main}/heartbeat` }), expect: ownerOnly(200) },
  'POST /api/v1/sessions/{id}/entry': { request: (_, f) => ({ path: `/api/v1/sessions/${f.sessions.main}/entry` }), expect: ownerOnly(201) },
  // Backups: admins only; a restore is refused unless it repeats the backup's id (nothing is replaced here).
  'GET /api/v1/backups': { request: () => ({ path: '/api/v1/backups' }), expect: adminOnly(200) },
  'POST /api/v1/backups': { request: () => ({ path: '/api/v1/backups' }), expect: adminOnly(201) },
  'GET /api/v1/backups/status': { request: () => ({ path: '/api/v1/backups/status' }), expect: adminOnly(200) },
  'GET /api/v1/backups/settings': { request: () => ({ path: '/api/v1/backups/settings' }), expect: adminOnly(200) },
  'PUT /api/v1/backups/settings': { request: () => ({ path: '/api/v1/backups/settings', body: NO_RETENTION }), expect: adminOnly(200) },
  'POST /api/v1/backups/upload': {
    request: () => ({ path: '/api/v1/backups/upload', body: 'not an archive', headers: { 'content-type': 'application/octet-stream' } }),
    expect: adminOnly(400),
  },
  'GET /api/v1/backups/{id}': { request: (_, f) => ({ path: `/api/v1/backups/${f.backups.main}` }), expect: adminOnly(200) },
  'POST /api/v1/backups/{id}/verify': { request: (_, f) => ({ path: `/api/v1/backups/${f.backups.main}/verify` }), expect: adminOnly(200) },
  'POST /api/v1/backups/{id}/restore': { request: (_, f) => ({ path: `/api/v1/backups/${f.backups.main}/restore`, body: { confirm: 'not the id' } }), expect: adminOnly(409) },
  'POST /api/v1/backups/{id}/restore-project': { request: (_, f) => ({ path: `/api/v1/backups/${f.backups.main}/restore-project`, body: { projectId: f.project } }), expect: adminOnly(200) },
  'GET /api/v1/projects/{id}/archive': { request: (_, f) => ({ path: `/api/v1/projects/${f.project}/archive` }), expect: ownerOnly(200) },
  'DELETE /api/v1/backups/{id}': { request: (_, f) => ({ path: `/api/v1/backups/${f.backups.deleteHttp}` }), expect: adminOnly(204) },

  // Logs: each caller searches, exports and counts their own runs (admins everyone's); someone else's run is 404.
  'GET /api/v1/logs/search': { request: () => ({ path: '/api/v1/logs/search?q=matrix' }), expect: signedIn(200) },
  'GET /api/v1/logs/statistics': { request: () => ({ path: '/api/v1/logs/statistics' }), expect: signedIn(200) },
  'GET /api/v1/logs/export': { request: () => ({ path: '/api/v1/logs/export?format=jsonl&maxRuns=5' }), expect: signedIn(200) },
  'GET /api/v1/logs/retention-policies': { request: () => ({ path: '/api/v1/logs/retention-policies' }), expect: adminOnly(200) },
  // A group no script has: the policy deletes nothing the other rows read.
  'PUT /api/v1/logs/retention-policies': { request: () => ({ path: '/api/v1/logs/retention-policies', body: { scope: 'group', target: 'authz_matrix_none', keepDays: 3650 } }), expect: adminOnly(200) },
  'DELETE /api/v1/logs/retention-policies/{id}': { request: () => ({ path: `/api/v1/logs/retention-policies/${NO_SUCH_ID}` }), expect: row(401, 403, 403, 403, 403, 404) },
  'POST /api/v1/logs/cleanup': { request: () => ({ path: '/api/v1/logs/cleanup', body: { dryRun: true } }), expect: adminOnly(200) },
  // Deleting `operator`'s run would take it from the other rows: an unknown run is 404 for everyone, as someone else's is.
  'POST /api/v1/logs/deletions': { request: () => ({ path: '/api/v1/logs/deletions', body: { executionIds: [NO_SUCH_ID] } }), expect: signedIn(404) },
  'GET /api/v1/logs/{executionId}': { request: (_, f) => ({ path: `/api/v1/logs/${f.runId}` }), expect: ownerOnly(200) },
  'GET /api/v1/logs/{executionId}/lines': { request: (_, f) => ({ path: `/api/v1/logs/${f.runId}/lines?streams=stdout,stderr` }), expect: ownerOnly(200) },
  'GET /api/v1/logs/{executionId}/search': { request: (_, f) => ({ path: `/api/v1/logs/${f.runId}/search?q=matrix` }), expect: ownerOnly(200) },
  'GET /api/v1/logs/{executionId}/export': { request: (_, f) => ({ path: `/api/v1/logs/${f.runId}/export?format=csv` }), expect: ownerOnly(200) },
  'DELETE /api/v1/logs/{executionId}': { request: () => ({ path: `/api/v1/logs/${NO_SUCH_ID}` }), expect: signedIn(404) },
};

/** Settings rows keep every backup, so the fixtures' backups outlive the matrix's own. */
const NO_RETENTION = { schedule: '0 3 * * *', timeZone: 'UTC', keepLast: 0, keepDays: 0 };
/** Every service serves SchemaTransferService; it takes only the installation's transfer token, never a user's token. */
const TRANSFER_SOCKETS = ['auth', 'catalog', 'execution', 'logging', 'backup'];
const gTransferTokenOnly = row(G.PERMISSION_DENIED, G.PERMISSION_DENIED, G.PERMISSION_DENIED, G.PERMISSION_DENIED, G.PERMISSION_DENIED, G.PERMISSION_DENIED);

/** An id no run, log or policy has. */
const NO_SUCH_ID = '00000000-0000-4000-8000-000000000000';

interface GrpcRow {
  request(who: Who, f: Fixtures): object | Promise<object>;
  expect: Row;
  sequential?: boolean;
  /** A stream that sends nothing until something changes: still open after a moment counts as OK. */
  quiet?: boolean;
  /** Services (sockets) serving the method when it is not its package's own (SchemaTransferService): each is checked. */
  sockets?: string[];
}

const GRPC: Record<string, GrpcRow> = {
  'scriptorium.auth.v1.AuthService/Login': { request: () => ({ username: 'az-viewer', password: PASSWORD }), expect: gPublic },
  'scriptorium.auth.v1.AuthService/Refresh': { request: (_, f) => ({ refreshToken: f.refreshChain }), expect: gPublic, sequential: true },
  'scriptorium.auth.v1.AuthService/Logout': { request: () => ({ refreshToken: 'srt_not-a-real-one' }), expect: gPublic },
  'scriptorium.auth.v1.AuthService/GetVerificationKeys': { request: () => ({}), expect: gPublic },
  'scriptorium.auth.v1.AuthService/GetMe': { request: () => ({}), expect: gSignedIn() },
  'scriptorium.auth.v1.AuthService/UpdatePreferences': { request: () => ({ theme: 'light' }), expect: gSignedIn() },
  'scriptorium.auth.v1.AuthService/ChangePassword': { request: () => ({ currentPassword: 'not the password', newPassword: 'short' }), expect: gSignedIn(G.INVALID_ARGUMENT) },
  'scriptorium.auth.v1.AuthService/CreateUser': { request: () => ({ username: unique('az-g-'), password: PASSWORD, level: 'viewer' }), expect: gAdminOnly },
  'scriptorium.auth.v1.AuthService/GetUser': { request: (_, f) => ({ id: f.ids.viewer }), expect: gAdminOnly },
  'scriptorium.auth.v1.AuthService/ListUsers': { request: () => ({}), expect: gAdminOnly },
  'scriptorium.auth.v1.AuthService/UpdateUser': { request: (_, f) => ({ id: f.victims.patch, email: 'grpc@example.com' }), expect: gAdminOnly },
  'scriptorium.auth.v1.AuthService/ResetPassword': { request: (_, f) => ({ userId: f.victims.patch, newPassword: 'reset password 456' }), expect: gAdminOnly },
  'scriptorium.auth.v1.AuthService/UnlockUser': { request: (_, f) => ({ id: f.victims.patch }), expect: gAdminOnly },
  'scriptorium.auth.v1.AuthService/DeleteUser': { request: (_, f) => ({ id: f.victims.grpcDelete }), expect: gAdminOnly },
  'scriptorium.auth.v1.AuthService/CreateApiToken': { request: (who) => ({ name: `grpc ${who}`, level: 'viewer', expiresInDays: 1 }), expect: gSignedIn() },
  'scriptorium.auth.v1.AuthService/ListApiTokens': { request: () => ({}), expect: gSignedIn() },
  'scriptorium.auth.v1.AuthService/RevokeApiToken': { request: (_, f) => ({ id: f.operatorTokenIds[2] }), expect: gOwnerOnly(), sequential: true },
  'scriptorium.auth.v1.AuthService/VerifyApiToken': { request: (_, f) => ({ token: f.viewerApiToken }), expect: gPublic },
  'scriptorium.auth.v1.AuthService/ListAuditEvents': { request: () => ({}), expect: gAdminOnly },
  'scriptorium.catalog.v1.CatalogService/ListGroups': { request: () => ({}), expect: gSignedIn() },
  'scriptorium.catalog.v1.CatalogService/ListScripts': { request: () => ({ groupId: 'getting_started' }), expect: gOperatorScripts },
  'scriptorium.catalog.v1.CatalogService/GetScript': { request: () => ({ scriptId: 'getting_started/greet.py' }), expect: gOperatorScripts },
  'scriptorium.execution.v1.ExecutionService/RunScript': { request: () => ({ scriptId: 'getting_started/greet.py', parametersJson: '{"name":"grpc"}' }), expect: gOperatorScripts },
  'scriptorium.execution.v1.ExecutionService/GetExecution': { request: (_, f) => ({ executionId: f.runId }), expect: gOwnerOnly() },
  'scriptorium.execution.v1.ExecutionService/ListExecutions': { request: () => ({}), expect: gSignedIn() },
  'scriptorium.execution.v1.ExecutionService/CancelExecution': { request: (_, f) => ({ executionId: f.longRuns[1] }), expect: gOwnerOnly([G.OK, G.FAILED_PRECONDITION]), sequential: true },
  'scriptorium.execution.v1.ExecutionService/WatchExecution': { request: (_, f) => ({ executionId: f.runId }), expect: gOwnerOnly() },
  'scriptorium.logging.v1.LoggingService/TailLog': { request: (_, f) => ({ executionId: f.runId, follow: false }), expect: gOwnerOnly() },
  'scriptorium.logging.v1.LoggingService/GetLog': { request: (_, f) => ({ executionId: f.runId }), expect: gOwnerOnly() },
  'scriptorium.logging.v1.LoggingService/ReadLog': { request: (_, f) => ({ executionId: f.runId, streams: ['stderr'] }), expect: gOwnerOnly() },
  'scriptorium.logging.v1.LoggingService/GetRunLog': { request: (_, f) => ({ executionId: f.runId }), expect: gOwnerOnly() },
  'scriptorium.logging.v1.LoggingService/SearchLogs': { request: () => ({ query: 'matrix' }), expect: gSignedIn() },
  'scriptorium.logging.v1.LoggingService/SearchLog': { request: (_, f) => ({ executionId: f.runId, query: 'matrix' }), expect: gOwnerOnly() },
  'scriptorium.logging.v1.LoggingService/ExportLog': { request: (_, f) => ({ executionId: f.runId, format: 'jsonl' }), expect: gOwnerOnly() },
  'scriptorium.logging.v1.LoggingService/ExportLogs': { request: () => ({ format: 'csv', maxRuns: 5 }), expect: gSignedIn() },
  'scriptorium.logging.v1.LoggingService/GetLogStatistics': { request: () => ({}), expect: gSignedIn() },
  'scriptorium.logging.v1.LoggingService/ListRetentionPolicies': { request: () => ({}), expect: gAdminOnly },
  'scriptorium.logging.v1.LoggingService/SetRetentionPolicy': { request: () => ({ scope: 'group', target: 'authz_matrix_none', keepDays: 3650 }), expect: gAdminOnly },
  'scriptorium.logging.v1.LoggingService/DeleteRetentionPolicy': {
    request: () => ({ id: NO_SUCH_ID }),
    expect: row(G.UNAUTHENTICATED, G.PERMISSION_DENIED, G.PERMISSION_DENIED, G.PERMISSION_DENIED, G.PERMISSION_DENIED, G.NOT_FOUND),
  },
  'scriptorium.logging.v1.LoggingService/RunCleanup': { request: () => ({ dryRun: true }), expect: gAdminOnly },
  'scriptorium.logging.v1.LoggingService/DeleteLogs': { request: () => ({ executionIds: [NO_SUCH_ID] }), expect: gSignedIn(G.NOT_FOUND) },
  'scriptorium.backup.v1.BackupService/CreateBackup': { request: () => ({}), expect: gAdminOnly },
  'scriptorium.backup.v1.BackupService/ListBackups': { request: () => ({}), expect: gAdminOnly },
  'scriptorium.backup.v1.BackupService/GetBackup': { request: (_, f) => ({ id: f.backups.main }), expect: gAdminOnly },
  'scriptorium.backup.v1.BackupService/VerifyBackup': { request: (_, f) => ({ id: f.backups.main }), expect: gAdminOnly },
  'scriptorium.backup.v1.BackupService/DeleteBackup': { request: (_, f) => ({ id: f.backups.deleteGrpc }), expect: gAdminOnly },
  'scriptorium.backup.v1.BackupService/RestoreBackup': {
    request: (_, f) => ({ id: f.backups.main, confirm: '' }),
    expect: row(G.UNAUTHENTICATED, G.PERMISSION_DENIED, G.PERMISSION_DENIED, G.PERMISSION_DENIED, G.PERMISSION_DENIED, G.FAILED_PRECONDITION),
  },
  'scriptorium.backup.v1.BackupService/RestoreProjectFiles': { request: (_, f) => ({ id: f.backups.main, projectId: f.project }), expect: gAdminOnly },
  'scriptorium.backup.v1.BackupService/ExportProject': { request: (_, f) => ({ projectId: f.project }), expect: gOwnerOnly() },
  'scriptorium.backup.v1.BackupService/GetBackupStatus': { request: () => ({}), expect: gAdminOnly },
  'scriptorium.backup.v1.BackupService/GetBackupSettings': { request: () => ({}), expect: gAdminOnly },
  'scriptorium.backup.v1.BackupService/UpdateBackupSettings': { request: () => NO_RETENTION, expect: gAdminOnly },
  // An empty upload is no archive: refused after the level check.
  'scriptorium.backup.v1.BackupService/UploadBackup': {
    request: () => ({}),
    expect: row(G.UNAUTHENTICATED, G.PERMISSION_DENIED, G.PERMISSION_DENIED, G.PERMISSION_DENIED, G.PERMISSION_DENIED, G.INVALID_ARGUMENT),
  },
  'scriptorium.schema.v1.SchemaTransferService/DescribeSchema': { request: () => ({}), expect: gTransferTokenOnly, sockets: TRANSFER_SOCKETS },
  'scriptorium.schema.v1.SchemaTransferService/ExportSchema': { request: () => ({}), expect: gTransferTokenOnly, sockets: TRANSFER_SOCKETS },
  'scriptorium.schema.v1.SchemaTransferService/ImportSchema': { request: () => ({}), expect: gTransferTokenOnly, sockets: TRANSFER_SOCKETS },
  'scriptorium.schema.v1.SchemaTransferService/ExportFiles': { request: () => ({ prefix: '' }), expect: gTransferTokenOnly, sockets: TRANSFER_SOCKETS },
  'scriptorium.schema.v1.SchemaTransferService/ImportFiles': { request: () => ({}), expect: gTransferTokenOnly, sockets: TRANSFER_SOCKETS },

  'scriptorium.catalog.v1.CatalogService/UpdateScriptMetadata': {
    request: (who) => ({ scriptId: 'getting_started/word_stats.js', edit: { tags: { tags: ['authz-grpc'] } }, comment: `grpc ${who}` }),
    expect: gEditors,
  },
  'scriptorium.catalog.v1.CatalogService/ListScriptMetadataVersions': { request: () => ({ scriptId: 'getting_started/word_stats.js' }), expect: gEditors },
  'scriptorium.catalog.v1.CatalogService/RevertScriptMetadata': { request: (who) => ({ scriptId: 'getting_started/word_stats.js', version: 0, comment: `grpc ${who}` }), expect: gEditors },
  'scriptorium.catalog.v1.CatalogService/ReparseScriptMetadata': { request: (who) => ({ scriptId: 'getting_started/word_stats.js', comment: `grpc ${who}` }), expect: gEditors },
  'scriptorium.catalog.v1.CatalogService/GetScriptDocumentation': { request: () => ({ scriptId: 'getting_started/greet.py' }), expect: gOperatorScripts },
  'scriptorium.catalog.v1.CatalogService/SetPersonalTags': { request: (who) => ({ scriptId: 'getting_started/greet.py', tags: [`grpc-${who}`] }), expect: gOperatorScripts },
  'scriptorium.catalog.v1.CatalogService/GetScriptTags': { request: () => ({ scriptId: 'getting_started/greet.py' }), expect: gOperatorScripts },
  'scriptorium.catalog.v1.CatalogService/ListMyTags': { request: () => ({}), expect: gSignedIn() },

  // As over REST: an admin's rerun of someone else's run is a run or a clear refusal, never NOT_FOUND.
  'scriptorium.execution.v1.ExecutionService/RerunExecution': { request: (_, f) => ({ executionId: f.runId }), expect: gOwnerOnly([G.OK, G.PERMISSION_DENIED]) },
  'scriptorium.execution.v1.ExecutionService/WatchExecutions': { request: () => ({ allUsers: true }), expect: gAdminOnly, quiet: true },

  'scriptorium.execution.v1.ProjectService/ListProjects': {
    request: (_, f) => ({ userId: f.ids.operator }),
    expect: row(G.UNAUTHENTICATED, G.PERMISSION_DENIED, G.OK, G.PERMISSION_DENIED, G.PERMISSION_DENIED, G.OK),
  },
  'scriptorium.execution.v1.ProjectService/CreateProject': { request: () => ({ groupId: 'getting_started', name: unique('grpc ') }), expect: gOperatorScripts },
  'scriptorium.execution.v1.ProjectService/GetProject': { request: (_, f) => ({ projectId: f.project }), expect: gOwnerOnly() },
  'scriptorium.execution.v1.ProjectService/RenameProject': { request: (who, f) => ({ projectId: f.project, name: `grpc rename by ${who}` }), expect: gOwnerOnly() },
  'scriptorium.execution.v1.ProjectService/DeleteProject': { request: (who, f) => ({ projectId: ownOrAdmin(who, f.deleteProjects.grpc) }), expect: gOwnerOnly() },
  'scriptorium.execution.v1.ProjectService/GetActiveProject': { request: () => ({ groupId: 'getting_started' }), expect: gSignedIn() },
  'scriptorium.execution.v1.ProjectService/SetActiveProject': {
    request: (_, f) => ({ groupId: 'getting_started', projectId: f.project }),
    expect: row(G.UNAUTHENTICATED, G.NOT_FOUND, G.OK, G.NOT_FOUND, G.NOT_FOUND, G.NOT_FOUND),
  },
  'scriptorium.execution.v1.ProjectService/ListProjectFiles': { request: (_, f) => ({ projectId: f.project, path: '' }), expect: gOwnerOnly() },
  'scriptorium.execution.v1.ProjectService/ReadProjectFile': { request: (_, f) => ({ projectId: f.project, path: 'notes.txt' }), expect: gOwnerOnly() },
  'scriptorium.execution.v1.ProjectService/WriteProjectFile': { request: (who, f) => ({ projectId: f.project, path: `grpc-uploads/${who}.txt`, content: Buffer.from(who) }), expect: gOwnerOnly() },
  'scriptorium.execution.v1.ProjectService/DeleteProjectFile': { request: (who, f) => ({ projectId: f.project, path: ownOrAdmin(who, f.deleteFiles.grpc) }), expect: gOwnerOnly() },

  'scriptorium.execution.v1.CodeSessionService/CreateCodeSession': {
    request: (who) => ({ name: `grpc ${who}`, language: 'python', source: 'print(1)' }),
    expect: row(G.UNAUTHENTICATED, G.PERMISSION_DENIED, G.PERMISSION_DENIED, G.OK, G.PERMISSION_DENIED, G.OK),
  },
  'scriptorium.execution.v1.CodeSessionService/GetCodeSession': { request: (_, f) => ({ codeSessionId: f.codeSessions.grpc }), expect: gDeveloperOwned() },
  'scriptorium.execution.v1.CodeSessionService/ListCodeSessions': { request: () => ({ allUsers: true }), expect: gAdminOnly },
  'scriptorium.execution.v1.CodeSessionService/UpdateCodeSession': { request: (_, f) => ({ codeSessionId: f.codeSessions.grpc, baseVersion: 1, source: 'print(3)' }), expect: gDeveloperOwnerOnly },
  'scriptorium.execution.v1.CodeSessionService/DeleteCodeSession': { request: (who, f) => ({ codeSessionId: ownOrAdmin(who, f.codeSessions.deleteGrpc) }), expect: gDeveloperOwned() },
  'scriptorium.execution.v1.CodeSessionService/ExecuteCodeSession': { request: (_, f) => ({ codeSessionId: f.codeSessions.grpc }), expect: gDeveloperOwnerOnly },
  'scriptorium.execution.v1.CodeSessionService/ListCodeSessionExecutions': { request: (_, f) => ({ codeSessionId: f.codeSessions.grpc }), expect: gDeveloperOwned() },

  'scriptorium.execution.v1.SessionService/ListSessions': { request: () => ({ allUsers: true }), expect: gAdminOnly },
  'scriptorium.execution.v1.SessionService/GetSession': { request: (_, f) => ({ sessionId: f.sessions.main }), expect: gOwnerOnly() },
  'scriptorium.execution.v1.SessionService/CloseSession': { request: (who, f) => ({ sessionId: ownOrAdmin(who, f.sessions.closeGrpc) }), expect: gOwnerOnly() },
  'scriptorium.execution.v1.SessionService/HeartbeatSession': { request: (_, f) => ({ sessionId: f.sessions.main }), expect: gOwnerOnly() },
  'scriptorium.execution.v1.SessionService/CreateSessionEntry': { request: (_, f) => ({ sessionId: f.sessions.main }), expect: gOwnerOnly() },
  // The entry token / browser credential is the credential (each caller presents a fresh one the owner minted);
  // the refusals without one, whatever the bearer token, are in their own test below.
  'scriptorium.execution.v1.SessionService/RedeemSessionEntry': { request: async (_, f) => ({ sessionId: f.sessions.main, token: await entryToken(f.sessions.main) }), expect: gByCredential },
  'scriptorium.execution.v1.SessionService/ResolveSessionUpstream': {
    request: async (_, f) => ({ sessionId: f.sessions.main, credential: await sessionCredential(f.sessions.main) }),
    expect: gByCredential,
  },
};

/** A fresh one-time entry token of an `operator` session (minted over gRPC as its owner). */
async function entryToken(sessionId: string): Promise<string> {
  return (await grpcCall<{ token: string }>('scriptorium.execution.v1.SessionService/CreateSessionEntry', { sessionId }, f.tokens.operator)).token;
}

/** A browser credential of an `operator` session: a fresh entry token, redeemed. */
async function sessionCredential(sessionId: string): Promise<string> {
  const token = await entryToken(sessionId);
  return (await grpcCall<{ credential: string }>('scriptorium.execution.v1.SessionService/RedeemSessionEntry', { sessionId, token })).credential;
}

// ---------------------------------------------------------------------------------------

/** A request's status and body; a request left unanswered for 10 s is status 0 (so a hang names its route). */
/** The newest audit entry matching `query`, waiting for events that travel over the bus. */
async function waitForAudit(token: string, query: string): Promise<any> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const items = (await http('GET', `/api/v1/audit?${query}`, token)).json?.items ?? [];
    if (items.length) return items[0];
    if (Date.now() > deadline) throw new Error(`no audit entry for ${query}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function http(method: string, path: string, token?: string, body?: unknown, headers: Record<string, string> = {}) {
  let res: Response;
  let text: string;
  try {
    res = await fetch(`${stack.url}${path}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      redirect: 'manual',
      signal: AbortSignal.timeout(10_000),
    });
    text = await res.text();
  } catch (error) {
    if ((error as Error).name !== 'TimeoutError') throw error;
    return { status: 0, text: `no answer within 10 s to ${method} ${path}`, json: undefined as any };
  }
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json };
}

/** The answer of an SSE route: its status, or the status of an `error` event sent right away. */
async function sseStatus(path: string, token?: string): Promise<number> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), 1500);
  try {
    const res = await fetch(`${stack.url}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {}, signal: abort.signal });
    if (res.status !== 200 || !res.body) return res.status;
    let text = '';
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        text += Buffer.from(chunk).toString();
        const error = /event: error\ndata: (.*)\n/.exec(text);
        if (error) return (JSON.parse(error[1]) as { status: number }).status;
        if (/event: (?!error)/.test(text)) return 200;
      }
    } catch {
      // aborted: nothing but keepalives, which is a served stream
    }
    return 200;
  } finally {
    clearTimeout(timer);
  }
}

const matches = (expect: Expect, got: number) => (Array.isArray(expect) ? expect.includes(got) : expect === got);
const show = (expect: Expect) => (Array.isArray(expect) ? expect.join('|') : String(expect));

// gRPC ------------------------------------------------------------------------------------

interface GrpcMethod {
  key: string;
  service: string;
  name: string;
  responseStream: boolean;
  requestStream: boolean;
}

function protoFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? protoFiles(path) : path.endsWith('.proto') ? [path] : [];
  });
}

const definition = protoLoader.loadSync(protoFiles(PROTO_ROOT), {
  keepCase: false, longs: Number, enums: String, defaults: true, oneofs: true, arrays: true, includeDirs: [PROTO_ROOT],
});

function grpcMethods(): GrpcMethod[] {
  const methods: GrpcMethod[] = [];
  for (const [service, value] of Object.entries(definition)) {
    if (!value || typeof value !== 'object' || 'format' in value) continue; // messages and enums
    for (const [name, method] of Object.entries(value as protoLoader.ServiceDefinition)) {
      methods.push({ key: `${service}/${name}`, service, name, responseStream: method.responseStream, requestStream: method.requestStream });
    }
  }
  return methods;
}

const clients = new Map<string, grpc.Client>();
function clientOf(service: string, socketName = service.split('.')[1] /* scriptorium.<service>.v1.XService */): grpc.Client {
  let client = clients.get(`${service}@${socketName}`);
  if (!client) {
    const socket = join(grpcDir, `${socketName}.sock`);
    assert.ok(existsSync(socket), `no gRPC socket for ${service} at ${socket}`);
    const Ctor = grpc.makeGenericClientConstructor(definition[service] as grpc.ServiceDefinition, service);
    client = new Ctor(`unix:${socket}`, grpc.credentials.createInsecure());
    clients.set(`${service}@${socketName}`, client);
  }
  return client;
}

function metadataFor(token?: string): grpc.Metadata {
  const metadata = new grpc.Metadata();
  if (token) metadata.set('authorization', `Bearer ${token}`);
  return metadata;
}

/**
 * Calls a method and answers its status code (for a stream: of its first message, error or end;
 * with `quiet`, a stream still open after 1.5 s without either is served: OK).
 */
function grpcCode(method: GrpcMethod, request: object, token?: string, quiet = false, socket?: string): Promise<number> {
  const client = clientOf(method.service, socket) as unknown as Record<string, (...args: unknown[]) => any>;
  const deadline = Date.now() + 10_000;
  return new Promise((resolve) => {
    if (method.requestStream && !method.responseStream) {
      // A client stream: sends `request` as its only message (none when empty), then ends.
      const call = client[method.name](metadataFor(token), { deadline }, (error: grpc.ServiceError | null) => resolve(error ? error.code : G.OK));
      if (Object.keys(request).length) call.write(request);
      call.end();
      return;
    }
    if (!method.responseStream) {
      client[method.name](request, metadataFor(token), { deadline }, (error: grpc.ServiceError | null, response?: { refreshToken?: string }) => {
        if (response?.refreshToken && f) f.refreshChain = response.refreshToken;
        resolve(error ? error.code : G.OK);
      });
      return;
    }
    const call = client[method.name](request, metadataFor(token), { deadline });
    let done = false;
    const finish = (code: number) => {
      if (done) return;
      done = true;
      resolve(code);
      call.cancel();
    };
    const timer = quiet ? setTimeout(() => finish(G.OK), 1500) : undefined;
    call.on('data', () => finish(G.OK));
    call.on('end', () => finish(G.OK));
    call.on('error', (error: grpc.ServiceError) => {
      clearTimeout(timer);
      finish(error.code);
    });
  });
}

function grpcCall<T>(key: string, request: object, token?: string): Promise<T> {
  const method = grpcMethods().find((m) => m.key === key)!;
  const client = clientOf(method.service) as unknown as Record<string, (...args: unknown[]) => void>;
  return new Promise((resolve, reject) =>
    client[method.name](request, metadataFor(token), (error: grpc.ServiceError | null, response: T) => (error ? reject(error) : resolve(response))),
  );
}

// Fixtures ---------------------------------------------------------------------------------

async function createUser(adminToken: string, username: string, level: string): Promise<string> {
  const res = await http('POST', '/api/v1/users', adminToken, { username, password: PASSWORD, level });
  assert.equal(res.status, 201, res.text);
  return res.json.id as string;
}

async function waitForRunEnd(token: string, id: string) {
  for (let i = 0; i < 200; i++) {
    const res = await http('GET', `/api/v1/executions/${id}`, token);
    if (['succeeded', 'failed', 'timed_out', 'cancelled', 'lost'].includes(res.json?.state)) return res.json;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`run ${id} did not end`);
}

async function setUp(): Promise<Fixtures> {
  const admin = await login(stack.url, 'admin', ADMIN_PASSWORD);
  const ids = {} as Fixtures['ids'];
  const tokens = {} as Fixtures['tokens'];
  const levels: Record<Exclude<Who, 'none'>, string> = { viewer: 'viewer', operator: 'operator', developer: 'developer', other: 'operator', admin: 'admin' };
  const victims: Record<string, string> = {};
  await Promise.all([
    ...(Object.entries(levels) as [Exclude<Who, 'none'>, string][]).map(async ([who, level]) => {
      ids[who] = await createUser(admin, `az-${who}`, level);
      tokens[who] = await login(stack.url, `az-${who}`, PASSWORD);
    }),
    ...['patch', 'delete', 'grpcDelete'].map(async (name) => (victims[name] = await createUser(admin, `az-victim-${name.toLowerCase()}`, 'viewer'))),
  ]);

  const run = await http('POST', '/api/v1/executions', tokens.operator, { scriptId: 'getting_started/greet.py', parameters: { name: 'fixture' } });
  assert.equal(run.status, 202, run.text);
  const longRuns: string[] = [];
  for (let i = 0; i < 2; i++) {
    const long = await http('POST', '/api/v1/executions', tokens.operator, { scriptId: 'getting_started/countdown.py', parameters: { seconds: 120 } });
    assert.equal(long.status, 202, long.text);
    longRuns.push(long.json.id);
  }
  const operatorTokenIds: string[] = [];
  for (let i = 0; i < 3; i++) {
    const created = await http('POST', '/api/v1/me/tokens', tokens.operator, { name: `fixture ${i}`, expiresInDays: 1 });
    assert.equal(created.status, 201, created.text);
    operatorTokenIds.push(created.json.apiToken.id);
  }
  const viewerToken = await http('POST', '/api/v1/me/tokens', tokens.viewer, { name: 'fixture', expiresInDays: 1 });
  const refreshChain = await refreshTokenOf('az-viewer');

  // Projects of operator, a file to read and files to delete.
  const newProject = async (name: string) => {
    const created = await http('POST', '/api/v1/projects', tokens.operator, { groupId: 'getting_started', name });
    assert.equal(created.status, 201, created.text);
    return created.json.id as string;
  };
  const [project, ...deletable] = await Promise.all(['fixture', 'delete 1', 'delete 2', 'delete 3', 'delete 4'].map(newProject));
  const deleteFiles = { http: ['delete-http-owner.txt', 'delete-http-admin.txt'], grpc: ['delete-grpc-owner.txt', 'delete-grpc-admin.txt'] };
  for (const name of ['notes.txt', ...deleteFiles.http, ...deleteFiles.grpc]) {
    const written = await http('PUT', `/api/v1/projects/${project}/files/${name}`, tokens.operator, `fixture ${name}`, { 'content-type': 'text/plain' });
    assert.equal(written.status, 200, written.text);
  }

  // Code sessions of developer.
  const newCodeSession = async (name: string) => {
    const created = await http('POST', '/api/v1/code-sessions', tokens.developer, { name, language: 'python', source: 'print("fixture")' });
    assert.equal(created.status, 201, created.text);
    return created.json.id as string;
  };
  const [csHttp, csGrpc, ...csDelete] = await Promise.all(['http', 'grpc', 'delete 1', 'delete 2', 'delete 3', 'delete 4'].map(newCodeSession));

  // Interactive sessions of operator (opened with their runs).
  const newSession = async () => {
    const started = await http('POST', '/api/v1/executions', tokens.operator, { scriptId: 'authz_sessions/hold.py', parameters: {} });
    assert.equal(started.status, 202, started.text);
    const list = await http('GET', `/api/v1/sessions?executionId=${started.json.id}`, tokens.operator);
    assert.equal(list.json?.items?.length, 1, `no session for run ${started.json.id}: ${list.text}`);
    return list.json.items[0].id as string;
  };
  const sessionIds: string[] = [];
  for (let i = 0; i < 5; i++) sessionIds.push(await newSession());

  const newBackup = async () => {
    const created = await http('POST', '/api/v1/backups', admin);
    assert.equal(created.json?.state, 'succeeded', created.text);
    return created.json.id as string;
  };
  const backups = { main: await newBackup(), deleteHttp: await newBackup(), deleteGrpc: await newBackup() };

  await waitForRunEnd(tokens.operator, run.json.id);
  return {
    backups,
    tokens,
    ids,
    victims,
    runId: run.json.id,
    longRuns,
    operatorTokenIds,
    viewerApiToken: viewerToken.json.token,
    refreshChain,
    project,
    deleteProjects: { http: deletable.slice(0, 2), grpc: deletable.slice(2) },
    deleteFiles,
    codeSessions: { http: csHttp, grpc: csGrpc, deleteHttp: csDelete.slice(0, 2), deleteGrpc: csDelete.slice(2) },
    sessions: { main: sessionIds[0], closeHttp: sessionIds.slice(1, 3), closeGrpc: sessionIds.slice(3) },
  };
}

const tokenOf = (who: Who) => (who === 'none' ? undefined : f.tokens[who]);

// -------------------------------------------------------------------------------------------

describe('authorization matrix and hostile input', { timeout: 120_000 }, () => {
  before(async () => {
    postgres = await startPostgres();
    tmp = mkdtempSync(join(tmpdir(), 'scriptorium-authz-'));
    const groups = join(tmp, 'script_groups');
    cpSync(EXAMPLE_GROUPS, groups, { recursive: true });
    cpSync(FIXTURE_GROUPS, groups, { recursive: true });
    stack = await startAllInOneProcess({ DATABASE_URL: postgres.url, TMPDIR: tmp, SCRIPT_GROUPS_DIR: groups, MAX_SESSIONS_PER_USER: '10', BACKUP_ENCRYPTION_KEY: 'authz matrix backup key' });
    const socketDir = readdirSync(tmp).find((name) => name.startsWith('scriptorium-') && existsSync(join(tmp, name, 'auth.sock')));
    assert.ok(socketDir, `the all-in-one process did not put its gRPC sockets under TMPDIR (${tmp}): ${readdirSync(tmp).join(', ')}`);
    grpcDir = join(tmp, socketDir);
    db = new pg.Client({ connectionString: postgres.url });
    await db.connect();
    f = await setUp();
  });

  after(async () => {
    for (const client of clients.values()) client.close();
    await db?.end().catch(() => undefined);
    await stack?.stop();
    await postgres?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('every HTTP route answers each kind of caller as intended', async () => {
    const docs = await http('GET', '/api/docs-json');
    assert.equal(docs.status, 200);
    const routes = Object.entries(docs.json.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) =>
      Object.keys(ops).filter((m) => ['get', 'post', 'put', 'patch', 'delete'].includes(m)).map((m) => `${m.toUpperCase()} ${path}`),
    );
    const missing = routes.filter((r) => !HTTP[r]);
    const stale = Object.keys(HTTP).filter((r) => !routes.includes(r));
    assert.deepEqual({ missing, stale }, { missing: [], stale: [] }, 'HTTP routes without a row in the matrix (missing), or rows for routes that no longer exist (stale)');
    const wrong: string[] = [];
    for (const route of routes) {
      const entry = HTTP[route];
      const method = route.split(' ')[0];
      const check = async (who: Who) => {
        const request = await entry.request(who, f);
        let status: number;
        let message = '';
        if (entry.sse) status = await sseStatus(request.path, tokenOf(who));
        else {
          const res = await http(method, request.path, tokenOf(who), request.body, request.headers);
          status = res.status;
          message = typeof res.json?.message === 'string' ? ` (${res.json.message.slice(0, 120)})` : status === 0 ? ` (${res.text})` : '';
          if (res.json?.refreshToken) f.refreshChain = res.json.refreshToken;
        }
        if (!matches(entry.expect[who], status)) wrong.push(`${route} as ${who}: expected ${show(entry.expect[who])}, got ${status}${message}`);
      };
      if (entry.sequential) for (const who of CALLERS) await check(who);
      else await Promise.all(CALLERS.map(check));
    }
    assert.deepEqual(wrong, []);
  });

  it('the WebSocket live stream refuses anonymous callers and hides other users\' runs', async () => {
    const open = (token?: string) =>
      new Promise<string>((resolve) => {
        const ws = new WebSocket(`${stack.url.replace('http', 'ws')}/api/v1/executions/${f.runId}/stream`, ['scriptorium.v1', ...(token ? [`bearer.${token}`] : [])]);
        ws.on('unexpected-response', (_req, res) => resolve(`http ${res.statusCode}`));
        ws.on('message', (data) => {
          const event = JSON.parse(String(data)) as { type: string; status?: number };
          resolve(event.type === 'error' ? `error ${event.status}` : 'message');
          ws.close();
        });
        ws.on('close', (code) => resolve(`close ${code}`));
        ws.on('error', () => resolve('error'));
      });
    assert.equal(await open(), 'http 401');
    assert.equal(await open('not-a-token'), 'http 401');
    assert.equal(await open(f.tokens.operator), 'message');
    assert.equal(await open(f.tokens.admin), 'message');
    assert.equal(await open(f.tokens.other), 'error 404');
    assert.equal(await open(f.viewerApiToken), 'error 404');
  });

  it('every gRPC method of every service answers each kind of caller as intended', async () => {
    const methods = grpcMethods();
    const missing = methods.filter((m) => !GRPC[m.key]).map((m) => m.key);
    const stale = Object.keys(GRPC).filter((k) => !methods.some((m) => m.key === k));
    assert.deepEqual({ missing, stale }, { missing: [], stale: [] }, 'gRPC methods without a row in the matrix (missing), or rows for methods that no longer exist (stale)');
    const wrong: string[] = [];
    for (const method of methods) {
      if (method.requestStream && method.responseStream) {
        wrong.push(`${method.key}: bidirectional methods are not covered by this suite yet`);
        continue;
      }
      const entry = GRPC[method.key];
      const check = async (who: Who) => {
        for (const socket of entry.sockets ?? [undefined]) {
          const code = await grpcCode(method, await entry.request(who, f), tokenOf(who), entry.quiet, socket);
          if (!matches(entry.expect[who], code)) wrong.push(`${method.key}${socket ? ` on ${socket}` : ''} as ${who}: expected ${show(entry.expect[who]).replace(/\d+/g, (c) => G[Number(c)])}, got ${G[code]}`);
        }
      };
      if (entry.sequential) for (const who of CALLERS) await check(who);
      else await Promise.all(CALLERS.map(check));
    }
    assert.deepEqual(wrong, []);
  });

  it('session entry tokens and browser credentials are the only way in: no bearer token stands in for them', async () => {
    const redeem = 'scriptorium.execution.v1.SessionService/RedeemSessionEntry';
    const resolveUpstream = 'scriptorium.execution.v1.SessionService/ResolveSessionUpstream';
    const refused = (key: string, request: object, token: string | undefined, code: number) =>
      assert.rejects(grpcCall(key, request, token), (e: grpc.ServiceError) => e.code === code, `${key} ${JSON.stringify(request)} with ${token ? 'a bearer token' : 'no token'}: ${G[code]}`);
    const main = f.sessions.main;
    // Redeeming: a made-up, a used, or another session's entry token is refused, even with an admin's bearer token.
    await refused(redeem, { sessionId: main, token: 'not-a-token' }, f.tokens.admin, G.PERMISSION_DENIED);
    await refused(redeem, { sessionId: main, token: '' }, f.tokens.operator, G.PERMISSION_DENIED);
    const used = await entryToken(main);
    await grpcCall(redeem, { sessionId: main, token: used });
    await refused(redeem, { sessionId: main, token: used }, f.tokens.operator, G.PERMISSION_DENIED);
    // Resolving: no credential, a made-up one, or a credential of the session under another session's id.
    for (const token of [undefined, f.tokens.operator, f.tokens.admin]) {
      await refused(resolveUpstream, { sessionId: main, credential: '' }, token, G.UNAUTHENTICATED);
      await refused(resolveUpstream, { sessionId: main, credential: 'made-up' }, token, G.UNAUTHENTICATED);
    }
    const credential = await sessionCredential(main);
    const otherSession = f.sessions.closeHttp[0];
    await refused(resolveUpstream, { sessionId: otherSession, credential }, f.tokens.admin, G.UNAUTHENTICATED);
    // An access token is not a browser credential, and a credential is not an access token.
    await refused(resolveUpstream, { sessionId: main, credential: f.tokens.operator }, undefined, G.UNAUTHENTICATED);
    assert.equal((await http('GET', `/api/v1/sessions/${main}`, credential)).status, 401);
    // What users are shown never names the upstream (no port).
    const shown = await http('GET', `/api/v1/sessions/${main}`, f.tokens.operator);
    assert.equal(shown.status, 200, shown.text);
    assert.ok(!/127\.0\.0\.1:\d+|upstream/.test(shown.text), shown.text);
  });

  it("watching every change shows a user only their own runs; admins everyone's on request", async () => {
    const watch = (token: string, allUsers: boolean) => {
      const method = grpcMethods().find((m) => m.key.endsWith('ExecutionService/WatchExecutions'))!;
      const client = clientOf(method.service) as unknown as Record<string, (...args: unknown[]) => grpc.ClientReadableStream<{ id: string; userId: string }>>;
      const call = client[method.name]({ allUsers }, metadataFor(token));
      const seen: { id: string; userId: string }[] = [];
      call.on('data', (run) => seen.push(run));
      call.on('error', () => undefined);
      return { seen, cancel: () => call.cancel() };
    };
    const others = watch(f.tokens.other, false);
    const mine = watch(f.tokens.operator, false);
    const everyone = watch(f.tokens.admin, true);
    try {
      await new Promise((r) => setTimeout(r, 300));
      const run = await http('POST', '/api/v1/executions', f.tokens.operator, { scriptId: 'getting_started/greet.py', parameters: { name: 'watched' } });
      assert.equal(run.status, 202, run.text);
      await waitForRunEnd(f.tokens.operator, run.json.id);
      await new Promise((r) => setTimeout(r, 500));
      assert.ok(mine.seen.some((r) => r.id === run.json.id), 'the owner sees the changes of their run');
      assert.ok(everyone.seen.some((r) => r.id === run.json.id), 'an admin watching all users sees it');
      assert.deepEqual(others.seen.filter((r) => r.userId !== f.ids.other).map((r) => r.id), [], 'another operator sees none of it');
    } finally {
      for (const w of [others, mine, everyone]) w.cancel();
    }
  });

  it("log search, snippets, statistics and exports never show a user another user's lines; admins find everyone's", async () => {
    const search = async (token: string, query = '') => (await http('GET', `/api/v1/logs/search?q=fixture${query}`, token)).json as { hits: { run: { executionId: string; userId: string }; snippets: { text: string }[] }[] };
    const own = await search(f.tokens.operator);
    const hit = own.hits.find((h) => h.run.executionId === f.runId);
    assert.ok(hit, `the owner finds the line of their run: ${JSON.stringify(own)}`);
    assert.match(hit.snippets[0].text, /fixture/);
    assert.deepEqual((await search(f.tokens.other)).hits.filter((h) => h.run.userId !== f.ids.other), [], 'another operator finds none of it');
    assert.equal((await http('GET', '/api/v1/logs/search?q=fixture&allUsers=true', f.tokens.other)).status, 403);
    assert.equal((await http('GET', `/api/v1/logs/search?q=fixture&userId=${f.ids.operator}`, f.tokens.other)).status, 403);
    assert.ok((await search(f.tokens.admin, '&allUsers=true')).hits.some((h) => h.run.executionId === f.runId), 'an admin searching everyone finds it');
    assert.equal((await http('GET', `/api/v1/logs/${f.runId}/search?q=fixture`, f.tokens.other)).status, 404);
    const archive = await fetch(`${stack.url}/api/v1/logs/export?format=jsonl`, { headers: { authorization: `Bearer ${f.tokens.other}` } });
    assert.equal(archive.status, 200);
    assert.ok(!gunzipSync(Buffer.from(await archive.arrayBuffer())).toString().includes(f.runId), "another user's export holds none of the owner's runs");
    assert.ok(((await http('GET', '/api/v1/logs/statistics', f.tokens.other)).json as { users: number }).users <= 1, "statistics count the caller's own runs only");
    assert.ok(((await http('GET', '/api/v1/logs/statistics?allUsers=true', f.tokens.admin)).json as { users: number }).users >= 2, 'an admin counts everyone');
    assert.equal((await http('GET', '/api/v1/logs/export?format=pdf', f.tokens.operator)).status, 400);
    assert.equal((await http('GET', `/api/v1/logs/${f.runId}/export?format=pdf`, f.tokens.operator)).status, 400);
    assert.equal((await http('GET', '/api/v1/logs/search?q=%22unclosed', f.tokens.operator)).status, 400);
    assert.equal((await http('GET', '/api/v1/logs/search?q=x&from=2026-02-01&to=2026-01-01', f.tokens.operator)).status, 400);
  });

  it('search and tags never show scripts above the caller\'s level, nor anyone else\'s personal tags', async () => {
    const search = await http('GET', '/api/v1/scripts?q=greet', f.tokens.viewer);
    assert.equal(search.status, 200, search.text);
    assert.deepEqual(search.json.scripts.map((s: { id: string }) => s.id), []);
    const byTag = await http('GET', '/api/v1/scripts?tags=mine-operator', f.tokens.other);
    assert.equal(byTag.status, 200, byTag.text);
    assert.equal(byTag.json.total, 0, "another user's personal tag matches nothing for them");
    const tags = await http('GET', '/api/v1/tags', f.tokens.other);
    assert.ok(!tags.text.includes('mine-operator') && !tags.text.includes('grpc-operator'), tags.text);
    const scriptTags = await http('GET', '/api/v1/scripts/getting_started/greet.py/tags', f.tokens.other);
    assert.ok(!scriptTags.text.includes('mine-operator'), scriptTags.text);
  });

  it("runs and code sessions go only into the caller's own projects, whoever can see the project", async () => {
    for (const who of ['other', 'admin'] as const) {
      const run = await http('POST', '/api/v1/executions', f.tokens[who], { scriptId: 'getting_started/greet.py', parameters: { name: 'x' }, projectId: f.project });
      assert.equal(run.status, 404, `${who} running in operator's project: ${run.text}`);
    }
    const session = await http('POST', '/api/v1/code-sessions', f.tokens.admin, { name: 'elsewhere', language: 'python', projectId: f.project });
    assert.equal(session.status, 404, session.text);
  });

  it('a project file uploaded with a JSON content type is stored (as JSON), not left hanging', async () => {
    const res = await http('PUT', `/api/v1/projects/${f.project}/files/upload.json`, f.tokens.operator, { hello: 'world' });
    assert.equal(res.status, 200, res.text);
  });

  it('API tokens work as bearer tokens on REST and gRPC, capped at their level, and stop within seconds of revocation', async () => {
    // An operator's token scoped to viewer cannot see operator scripts, anywhere.
    const created = await http('POST', '/api/v1/me/tokens', f.tokens.operator, { name: 'scoped', level: 'viewer', expiresInDays: 7 });
    assert.equal(created.status, 201, created.text);
    const { token, apiToken } = created.json;
    assert.match(token, /^sct_[A-Za-z0-9_-]{43}$/);
    assert.equal(apiToken.level, 'viewer');
    assert.equal((await http('GET', '/api/v1/me', token)).json.username, 'az-operator');
    assert.equal((await http('GET', '/api/v1/groups/getting_started/scripts', token)).status, 404);
    assert.equal((await http('GET', '/api/v1/executions', token)).status, 200);
    assert.equal(await grpcCode(grpcMethods().find((m) => m.key.endsWith('CatalogService/ListGroups'))!, {}, token), G.OK);
    assert.equal(await grpcCode(grpcMethods().find((m) => m.key.endsWith('CatalogService/GetScript'))!, { scriptId: 'getting_started/greet.py' }, token), G.NOT_FOUND);
    // Shown once: listing never returns the secret; only its hash is stored.
    const listed = await http('GET', '/api/v1/me/tokens', f.tokens.operator);
    assert.ok(!listed.text.includes(token));
    const stored = await db.query('SELECT token_hash FROM auth.api_tokens WHERE id = $1', [apiToken.id]);
    assert.notEqual(stored.rows[0].token_hash, token);
    assert.ok(!JSON.stringify(stored.rows).includes(token.slice(4)));
    // Above the owner's level, or minted by a token: refused.
    assert.equal((await http('POST', '/api/v1/me/tokens', f.tokens.operator, { name: 'too high', level: 'admin' })).status, 400);
    assert.equal((await http('POST', '/api/v1/me/tokens', token, { name: 'from a token' })).status, 403);
    assert.equal((await http('POST', '/api/v1/me/password', token, { currentPassword: PASSWORD, newPassword: 'another password 9' })).status, 403);
    // Revocation: refused everywhere within the verification cache time (5 s).
    assert.equal((await http('DELETE', `/api/v1/me/tokens/${apiToken.id}`, f.tokens.operator)).status, 204);
    const started = Date.now();
    for (;;) {
      const rest = (await http('GET', '/api/v1/me', token)).status;
      const catalog = await grpcCode(grpcMethods().find((m) => m.key.endsWith('CatalogService/ListGroups'))!, {}, token);
      if (rest === 401 && catalog === G.UNAUTHENTICATED) break;
      assert.ok(Date.now() - started < 7000, `revoked token still accepted after ${Date.now() - started} ms (REST ${rest}, gRPC ${G[catalog]})`);
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.equal(await grpcCode(grpcMethods().find((m) => m.key.endsWith('AuthService/GetMe'))!, {}, token), G.UNAUTHENTICATED);
  });

  it('preferences are read and changed without logging out', async () => {
    const token = f.tokens.developer;
    const changed = await http('PATCH', '/api/v1/me', token, { language: 'es', theme: 'dark' });
    assert.equal(changed.status, 200, changed.text);
    const me = await http('GET', '/api/v1/me', token);
    assert.deepEqual([me.json.language, me.json.theme], ['es', 'dark']);
    const bad = await http('PATCH', '/api/v1/me', token, { language: 'de' });
    assert.equal(bad.status, 400);
    assert.match(bad.json.message, /language must be one of en, es, it, fr/);
  });

  it('deleting a user anonymizes the account and keeps their runs; deactivation is reversible', async () => {
    const admin = f.tokens.admin;
    const id = await createUser(admin, 'az-leaver', 'operator');
    const leaver = await login(stack.url, 'az-leaver', PASSWORD);
    const run = await http('POST', '/api/v1/executions', leaver, { scriptId: 'getting_started/greet.py', parameters: { name: 'bye' } });
    assert.equal(run.status, 202, run.text);
    const apiToken = (await http('POST', '/api/v1/me/tokens', leaver, { name: 'leaver' })).json.token as string;
    await waitForRunEnd(leaver, run.json.id);

    assert.equal((await http('DELETE', `/api/v1/users/${f.ids.admin}`, f.tokens.admin)).status, 409, 'an admin cannot delete themselves');
    assert.equal((await http('DELETE', `/api/v1/users/${id}`, admin)).status, 204);
    assert.equal((await http('GET', `/api/v1/users/${id}`, admin)).status, 404);
    assert.equal((await http('DELETE', `/api/v1/users/${id}`, admin)).status, 404);
    assert.equal((await http('GET', '/api/v1/users?search=az-leaver', admin)).json.total, 0);
    assert.equal((await http('POST', '/api/v1/auth/login', undefined, { username: 'az-leaver', password: PASSWORD })).status, 401);
    assert.equal((await http('GET', '/api/v1/me', leaver)).status, 404, 'an access token outlives the account only as "no longer exists"');
    assert.equal((await http('GET', '/api/v1/me', apiToken)).status, 401);
    // The run is kept, still owned by the same id, visible to admins.
    const kept = await http('GET', `/api/v1/executions/${run.json.id}`, admin);
    assert.equal(kept.status, 200);
    assert.equal(kept.json.userId ?? id, id);
    // Personal data is gone from the row; the username is free again.
    const { rows } = await db.query('SELECT username, email, active, deleted_at FROM auth.users WHERE id = $1', [id]);
    assert.match(rows[0].username, /^deleted-[0-9a-f]{32}$/);
    assert.equal(rows[0].email, '');
    assert.equal(rows[0].active, false);
    assert.ok(rows[0].deleted_at);
    await createUser(admin, 'az-leaver', 'viewer');

    // Deactivation: sign-in refused, then allowed again.
    const pausedId = await createUser(admin, 'az-paused', 'viewer');
    assert.equal((await http('POST', `/api/v1/users/${pausedId}/deactivate`, admin)).json.active, false);
    assert.equal((await http('POST', '/api/v1/auth/login', undefined, { username: 'az-paused', password: PASSWORD })).status, 403);
    assert.equal((await http('POST', `/api/v1/users/${pausedId}/activate`, admin)).json.active, true);
    assert.equal((await http('POST', '/api/v1/auth/login', undefined, { username: 'az-paused', password: PASSWORD })).status, 200);
  });

  it('the audit trail records logins, user and level changes, tokens and admin actions, with who, when and where', async () => {
    const admin = f.tokens.admin;
    assert.equal((await http('POST', '/api/v1/auth/login', undefined, { username: 'az-viewer', password: 'wrong password!' })).status, 401);
    const level = await http('PATCH', `/api/v1/users/${f.victims.patch}`, admin, { level: 'developer' });
    assert.equal(level.status, 200, level.text);
    const failures = await http('GET', '/api/v1/audit?action=auth.login&outcome=failure', admin);
    assert.equal(failures.status, 200, failures.text);
    const failed = failures.json.items.find((e: any) => e.actorUsername === 'az-viewer');
    assert.ok(failed, 'the failed login is recorded');
    assert.equal(failed.targetId, f.ids.viewer);
    assert.equal(failed.ip, '127.0.0.1');
    assert.ok(Date.now() - Date.parse(failed.occurredAt) < 60_000);
    const levelChange = (await http('GET', `/api/v1/audit?action=user.level_changed&targetId=${f.victims.patch}`, admin)).json.items[0];
    assert.equal(levelChange.actorId, f.ids.admin);
    assert.deepEqual(levelChange.details.level, { from: 'viewer', to: 'developer' });
    assert.equal(levelChange.ip, '127.0.0.1');
    const signedIn = await http('POST', '/api/v1/auth/login', undefined, { username: 'az-viewer', password: PASSWORD });
    assert.equal(signedIn.status, 200, signedIn.text);
    const logout = await http('POST', '/api/v1/auth/logout', signedIn.json.accessToken, { refreshToken: signedIn.json.refreshToken });
    assert.equal(logout.status, 204, logout.text);
    const loggedOut = await waitForAudit(admin, `action=auth.logout&targetId=${f.ids.viewer}`);
    assert.equal(loggedOut.actorUsername, 'az-viewer');
    const edit = await http('PATCH', '/api/v1/scripts/getting_started/greet.py/metadata', f.tokens.developer, { category: 'audited' });
    assert.equal(edit.status, 200, edit.text);
    const edited = await waitForAudit(admin, 'action=script.metadata_edit&targetId=getting_started/greet.py');
    assert.equal(edited.actorId, f.ids.developer);
    assert.ok(edited.details.changedFields.includes('category'));
    const actions = new Set((await http('GET', '/api/v1/audit?pageSize=500', admin)).json.items.map((e: any) => `${e.action}:${e.outcome}`));
    for (const action of ['auth.login:success', 'auth.logout:success', 'user.created:success', 'user.deleted:success', 'user.deactivated:success', 'user.activated:success', 'user.password_reset:success', 'api_token.created:success', 'api_token.revoked:success', 'user.listed:failure', 'user.email_changed:success']) {
      assert.ok(actions.has(action), `audit trail lacks ${action}`);
    }
    const tokenEvents = await http('GET', '/api/v1/audit?action=api_token.', admin);
    assert.ok(tokenEvents.json.items.length > 0 && tokenEvents.json.items.every((e: any) => e.action.startsWith('api_token.')));
    assert.equal((await http('GET', '/api/v1/audit?since=yesterday', admin)).status, 400);
  });

  describe('hostile input: a clear 4xx and nothing changed', () => {
    let before: string;
    const snapshot = async () =>
      JSON.stringify((await db.query(`SELECT (SELECT count(*) FROM auth.users) AS users, (SELECT count(*) FROM auth.api_tokens) AS tokens,
        (SELECT string_agg(level || email || theme || language, ',' ORDER BY id) FROM auth.users) AS fields`)).rows);

    it('takes a snapshot of the accounts', async () => {
      before = await snapshot();
    });

    it('malformed and oversized JSON bodies', async () => {
      const malformed = await http('POST', '/api/v1/users', f.tokens.admin, '{"username": "x", ');
      assert.equal(malformed.status, 400, malformed.text);
      const huge = await http('POST', '/api/v1/users', f.tokens.admin, JSON.stringify({ username: 'huge', password: 'x'.repeat(2 * 1024 * 1024) }));
      assert.equal(huge.status, 413, huge.text);
      const notObject = await http('PATCH', '/api/v1/me', f.tokens.viewer, '"dark"');
      assert.ok(notObject.status === 400, notObject.text);
      const wrongType = await http('POST', '/api/v1/users', f.tokens.admin, { username: 'typed', password: 12345678901, level: 5 });
      assert.equal(wrongType.status, 400);
      assert.match(wrongType.json.message, /password must be a string/);
    });

    it('tampered, expired, unsigned and foreign tokens', async () => {
      const { rows } = await db.query('SELECT kid, private_key_pem FROM auth.signing_keys ORDER BY generation DESC LIMIT 1');
      const [{ kid, private_key_pem: realKey }] = rows;
      const claims = { sub: f.ids.viewer, username: 'az-viewer', level: 'admin', typ: 'access' };
      const options = { algorithm: 'RS256' as const, keyid: kid, issuer: 'scriptorium', audience: 'scriptorium' };
      const [header, payload, signature] = f.tokens.viewer.split('.');
      const raised = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), level: 'admin' })).toString('base64url');
      const foreign = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
      const cases: Record<string, string> = {
        tampered: `${header}.${raised}.${signature}`,
        expired: jwt.sign({ ...claims, exp: Math.floor(Date.now() / 1000) - 60 }, realKey, options),
        'alg none': `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT', kid })).toString('base64url')}.${raised}.`,
        'HS256 with the public key': jwt.sign(claims, (await db.query('SELECT public_key_pem FROM auth.signing_keys LIMIT 1')).rows[0].public_key_pem, { ...options, algorithm: 'HS256' }),
        'another key, same kid': jwt.sign(claims, foreign, options),
        'another key, unknown kid': jwt.sign(claims, foreign, { ...options, keyid: 'unknown' }),
        'wrong audience': jwt.sign(claims, realKey, { ...options, audience: 'elsewhere' }),
        'refresh token as bearer': await refreshTokenOf('az-viewer'),
        'unknown API token': `sct_${'A'.repeat(43)}`,
        garbage: 'a.b.c',
      };
      const listUsers = grpcMethods().find((m) => m.key.endsWith('AuthService/ListUsers'))!;
      const listGroups = grpcMethods().find((m) => m.key.endsWith('CatalogService/ListGroups'))!;
      for (const [name, token] of Object.entries(cases)) {
        const res = await http('GET', '/api/v1/users', token);
        assert.equal(res.status, 401, `${name}: ${res.text}`);
        assert.ok(typeof res.json?.message === 'string' && res.json.message.length > 0, `${name}: a message`);
        assert.equal(await grpcCode(listUsers, {}, token), G.UNAUTHENTICATED, `${name} (auth gRPC)`);
        assert.equal(await grpcCode(listGroups, {}, token), G.UNAUTHENTICATED, `${name} (catalog gRPC)`);
      }
      assert.match((await http('GET', '/api/v1/me', cases.expired)).json.message, /expired/);
    });

    it('unknown fields are refused, not ignored', async () => {
      const res = await http('POST', '/api/v1/users', f.tokens.admin, { username: 'az-sneaky', password: PASSWORD, isAdmin: true });
      assert.equal(res.status, 400);
      assert.match(res.json.message, /property isAdmin should not exist/);
      const me = await http('PATCH', '/api/v1/me', f.tokens.viewer, { theme: 'dark', level: 'admin' });
      assert.equal(me.status, 400);
      assert.match(me.json.message, /property level should not exist/);
      assert.equal((await http('GET', '/api/v1/me', f.tokens.viewer)).json.level, 'viewer');
    });

    it('SQL-ish and script-ish text', async () => {
      const admin = f.tokens.admin;
      const sqlish = ["x'); DROP TABLE auth.users; --", "' OR '1'='1", 'admin"--'];
      const scriptish = ['<script>alert(1)</script>', '<img src=x onerror=alert(1)>', '"><svg onload=alert(1)>'];
      for (const text of [...sqlish, ...scriptish]) {
        const user = await http('POST', '/api/v1/users', admin, { username: text, password: PASSWORD });
        assert.equal(user.status, 400, `username ${text}: ${user.text}`);
        assert.match(user.json.message, /username must be/);
        const email = await http('PATCH', `/api/v1/users/${f.victims.patch}`, admin, { email: `${text}@example.com` });
        assert.equal(email.status, 400, `email ${text}: ${email.text}`);
        const token = await http('POST', '/api/v1/me/tokens', f.tokens.viewer, { name: text });
        assert.equal(token.status, 400, `token name ${text}: ${token.text}`);
        const search = await http('GET', `/api/v1/users?search=${encodeURIComponent(text)}`, admin);
        assert.equal(search.status, 200);
        assert.equal(search.json.total, 0, `search ${text} matches nothing`);
        await assert.rejects(grpcCall('scriptorium.auth.v1.AuthService/CreateUser', { username: text, password: PASSWORD }, admin), (e: grpc.ServiceError) => e.code === G.INVALID_ARGUMENT);
      }
      const login = await http('POST', '/api/v1/auth/login', undefined, { username: "' OR 1=1 --", password: "' OR 1=1 --" });
      assert.equal(login.status, 401);
      const id = await http('GET', `/api/v1/users/${encodeURIComponent("1' OR '1'='1")}`, admin);
      assert.equal(id.status, 404);
    });

    it('changed nothing', async () => {
      assert.equal(await snapshot(), before);
    });
  });
});
