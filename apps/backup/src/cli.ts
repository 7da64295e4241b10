// The operator's command for backups, through the gateway's REST API (so it works in every
// mode, checks the admin and lands in the audit trail), for when the web UI is gone:
//   npm run backup -- list | status | create | verify <id> | delete <id> | upload <file> | restore <archive> [--yes]
// <archive> is a backup id, an archive name in the destination, or a local archive file (uploaded first).
// SCRIPTORIUM_URL (default http://localhost:8080); SCRIPTORIUM_TOKEN, or SCRIPTORIUM_USER (admin) and SCRIPTORIUM_PASSWORD.
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createInterface } from 'node:readline/promises';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';

const USAGE = `usage: npm run backup -- <command>
  list                      the backups, newest first
  status                    last success, last failure, next run, storage used
  create                    take a backup now (written, then verified)
  verify <id>               read a backup through again
  delete <id>               delete a backup and its archive
  upload <file>             store an archive file in the destination
  restore <archive> [--yes] replace everything with a backup (an id, an archive name, or a file)
environment: SCRIPTORIUM_URL (http://localhost:8080), SCRIPTORIUM_TOKEN or SCRIPTORIUM_USER + SCRIPTORIUM_PASSWORD`;

interface BackupView {
  id: string;
  state: string;
  createdAt: string;
  sizeBytes: number;
  location: string;
  error: string;
  verifyError: string;
}

class CliError extends Error {}

const base = (process.env.SCRIPTORIUM_URL ?? 'http://localhost:8080').replace(/\/$/, '');

async function token(): Promise<string> {
  if (process.env.SCRIPTORIUM_TOKEN) return process.env.SCRIPTORIUM_TOKEN;
  const password = process.env.SCRIPTORIUM_PASSWORD;
  if (!password) throw new CliError('set SCRIPTORIUM_TOKEN, or SCRIPTORIUM_PASSWORD (and SCRIPTORIUM_USER unless it is "admin")');
  const res = await fetch(`${base}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: process.env.SCRIPTORIUM_USER ?? 'admin', password }),
  });
  if (!res.ok) throw new CliError(`login at ${base} failed (${res.status}): ${await res.text()}`);
  return ((await res.json()) as { accessToken: string }).accessToken;
}

async function call<T>(bearer: string, method: string, path: string, body?: unknown, raw?: { stream: Readable; size: number }): Promise<T> {
  const res = await fetch(`${base}/api/v1/backups${path}`, {
    method,
    headers: {
      authorization: `Bearer ${bearer}`,
      ...(raw ? { 'content-type': 'application/octet-stream', 'content-length': String(raw.size) } : body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: raw ? (Readable.toWeb(raw.stream) as ReadableStream) : body === undefined ? undefined : JSON.stringify(body),
    ...(raw ? { duplex: 'half' } : {}),
  } as RequestInit);
  const text = await res.text();
  if (!res.ok) throw new CliError(`${method} ${path || '/'} answered ${res.status}: ${(JSON.parse(text || '{}') as { message?: string }).message ?? text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

const line = (b: BackupView) =>
  `${b.id}  ${b.state.padEnd(9)} ${b.createdAt}  ${String(b.sizeBytes).padStart(12)} B  ${b.location}${b.error ? `  error: ${b.error}` : ''}${b.verifyError ? `  verify: ${b.verifyError}` : ''}`;

async function upload(bearer: string, file: string): Promise<BackupView> {
  return call<BackupView>(bearer, 'POST', '/upload', undefined, { stream: createReadStream(file), size: statSync(file).size });
}

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({ allowPositionals: true, options: { yes: { type: 'boolean', default: false }, help: { type: 'boolean', default: false } } });
  const [command, argument] = positionals;
  if (!command || values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const needs = (what: string) => {
    if (!argument) throw new CliError(`${command} needs ${what}\n${USAGE}`);
    return argument;
  };
  const bearer = await token();
  switch (command) {
    case 'list':
      for (const b of (await call<{ items: BackupView[] }>(bearer, 'GET', '')).items) process.stdout.write(`${line(b)}\n`);
      return;
    case 'status':
      process.stdout.write(`${JSON.stringify(await call(bearer, 'GET', '/status'), null, 2)}\n`);
      return;
    case 'create': {
      const b = await call<BackupView>(bearer, 'POST', '');
      process.stdout.write(`${line(b)}\n`);
      if (b.state !== 'succeeded') process.exitCode = 1;
      return;
    }
    case 'verify': {
      const b = await call<BackupView>(bearer, 'POST', `/${needs('a backup id')}/verify`);
      process.stdout.write(`${line(b)}\n${b.verifyError ? 'verification FAILED' : 'verified: every part matches its checksum and opens'}\n`);
      if (b.verifyError) process.exitCode = 1;
      return;
    }
    case 'delete':
      await call(bearer, 'DELETE', `/${needs('a backup id')}`);
      process.stdout.write(`deleted ${argument}\n`);
      return;
    case 'upload':
      process.stdout.write(`${line(await upload(bearer, needs('an archive file')))}\n`);
      return;
    case 'restore': {
      const archive = needs('a backup id, an archive name or an archive file');
      let backup: BackupView | undefined;
      if (existsSync(archive) && statSync(archive).isFile()) {
        backup = await upload(bearer, archive);
        process.stdout.write(`uploaded ${archive} as backup ${backup.id}\n`);
      } else {
        backup = (await call<{ items: BackupView[] }>(bearer, 'GET', '')).items.find((b) => b.id === archive || b.location === archive);
        if (!backup) throw new CliError(`no backup or archive named ${archive} at ${base} (npm run backup -- list)`);
      }
      if (!values.yes) {
        if (!process.stdin.isTTY) throw new CliError('a restore replaces every user, run, log, edit, tag, project and file: confirm with --yes');
        const prompt = createInterface({ input: process.stdin, output: process.stdout });
        const answer = await prompt.question(`Restoring replaces ALL data of ${base} with backup ${backup.id} of ${backup.createdAt}.\nType the backup id to confirm: `);
        prompt.close();
        if (answer.trim() !== backup.id) throw new CliError('not confirmed; nothing was changed');
      }
      const result = await call<{ rows: Record<string, number>; files: number; cancelledRuns: number }>(bearer, 'POST', `/${backup.id}/restore`, { confirm: backup.id });
      const rows = Object.values(result.rows).reduce((sum, n) => sum + n, 0);
      process.stdout.write(`restored backup ${backup.id}: ${rows} rows, ${result.files} files; ${result.cancelledRuns} active runs were cancelled first\n`);
      return;
    }
    default:
      throw new CliError(`unknown command ${command}\n${USAGE}`);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof CliError ? error.message : (error as Error).stack}\n`);
  process.exitCode = 1;
});
