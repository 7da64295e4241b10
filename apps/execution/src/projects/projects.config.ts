/**
 * Settings of projects and code sessions, read from the environment (like the service
 * config, but kept with these modules): limits of the data API and code-session interpreters.
 */
export interface ProjectSettings {
  /** Largest file the data API writes or reads, in bytes (below gRPC's 4 MiB message limit). */
  maxFileBytes: number;
}

export interface CodeSessionSettings {
  interpreters: Record<'python' | 'bash' | 'javascript', string>;
  defaultTimeoutSeconds: number;
  maxTimeoutSeconds: number;
  maxSourceBytes: number;
}

const GRPC_SAFE_MAX = 3 * 1024 * 1024;

function intFrom(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name} must be an integer between ${min} and ${max}, got "${raw}"`);
  }
  return value;
}

export function projectSettings(env: NodeJS.ProcessEnv = process.env): ProjectSettings {
  return { maxFileBytes: intFrom(env, 'PROJECT_FILE_MAX_BYTES', 2 * 1024 * 1024, 1, GRPC_SAFE_MAX) };
}

export function codeSessionSettings(env: NodeJS.ProcessEnv = process.env): CodeSessionSettings {
  return {
    interpreters: {
      python: env.CODE_SESSION_PYTHON || '/usr/bin/python3',
      bash: env.CODE_SESSION_BASH || '/bin/bash',
      javascript: env.CODE_SESSION_NODE || process.execPath,
    },
    defaultTimeoutSeconds: intFrom(env, 'CODE_SESSION_TIMEOUT_SECONDS', 30, 1, 86_400),
    maxTimeoutSeconds: intFrom(env, 'CODE_SESSION_MAX_TIMEOUT_SECONDS', 600, 1, 86_400),
    maxSourceBytes: intFrom(env, 'CODE_SESSION_MAX_SOURCE_BYTES', 256 * 1024, 1, GRPC_SAFE_MAX),
  };
}

export const PROJECT_SETTINGS = 'PROJECT_SETTINGS';
export const CODE_SESSION_SETTINGS = 'CODE_SESSION_SETTINGS';
