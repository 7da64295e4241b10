/** The archive format this version writes and reads. A newer one is refused. */
export const ARCHIVE_FORMAT = 'scriptorium-backup';
export const ARCHIVE_FORMAT_VERSION = 1;
export const MANIFEST_ENTRY = 'manifest.json';

export interface ManifestPart {
  /** Entry name in the archive, e.g. services/auth.jsonl.gz.enc. */
  name: string;
  size: number;
  /** Of the bytes as stored (after encryption). */
  sha256: string;
  /** AES-256-GCM, base64: present when the part is encrypted. */
  iv?: string;
  authTag?: string;
}

export interface ManifestService {
  schema: string;
  /** Migrations applied when the backup was taken, oldest first. */
  migrations: string[];
  part: string;
  /** Its files (the execution service's projects), when it keeps any. */
  filesPart?: string;
  /** Tables the service leaves out of its export. */
  excludedTables: string[];
}

export interface Manifest {
  format: string;
  formatVersion: number;
  id: string;
  createdAt: string;
  productVersion: string;
  /** `keyCheck`: an HMAC of a constant with the archive key, to tell a wrong key from damaged data. */
  encryption: { cipher: 'aes-256-gcm'; kdf: 'scrypt'; salt: string; keyCheck: string };
  services: Record<string, ManifestService>;
  parts: ManifestPart[];
}

/** What this installation runs, to compare a manifest with. */
export interface Installation {
  productVersion: string;
  /** Migrations applied per service. */
  services: Record<string, string[]>;
}

/** 1.2.10 > 1.2.9; pre-release tags are ignored. */
export function compareVersions(a: string, b: string): number {
  const parts = (v: string) => v.split('-')[0].split('.').map((n) => Number.parseInt(n, 10) || 0);
  const [x, y] = [parts(a), parts(b)];
  for (let i = 0; i < Math.max(x.length, y.length); i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0);
  return 0;
}

/**
 * Why this installation cannot restore `manifest`, one sentence each; empty when it can. A
 * service's data goes back only into the same schema version (the same migrations applied):
 * an archive of a newer version needs this installation upgraded first, one of an older
 * version needs the version that made it (restore there, then upgrade).
 */
export function compatibilityProblems(manifest: Manifest, installation: Installation): string[] {
  if (manifest.format !== ARCHIVE_FORMAT) return [`this is not a Scriptorium backup (format ${JSON.stringify(manifest.format)})`];
  if (manifest.formatVersion > ARCHIVE_FORMAT_VERSION) {
    return [`the archive has format version ${manifest.formatVersion}; this installation (${installation.productVersion}) reads up to ${ARCHIVE_FORMAT_VERSION}: upgrade Scriptorium first`];
  }
  const problems: string[] = [];
  if (compareVersions(manifest.productVersion, installation.productVersion) > 0) {
    problems.push(`the archive was made by Scriptorium ${manifest.productVersion}, newer than this installation's ${installation.productVersion}: upgrade to ${manifest.productVersion} or later first`);
  }
  for (const [service, applied] of Object.entries(installation.services)) {
    const archived = manifest.services[service];
    if (!archived) {
      problems.push(`the archive has no data of the ${service} service`);
      continue;
    }
    const unknown = archived.migrations.filter((m) => !applied.includes(m));
    const missing = applied.filter((m) => !archived.migrations.includes(m));
    if (unknown.length) problems.push(`the ${service} data is at schema version ${archived.migrations.at(-1)}, which this installation does not know (newer): upgrade Scriptorium first`);
    else if (missing.length) problems.push(`the ${service} data is at schema version ${archived.migrations.at(-1) ?? 'none'}, older than this installation's ${applied.at(-1)}: restore it with Scriptorium ${manifest.productVersion}, then upgrade`);
  }
  return problems;
}
