import { GRPC_SAFE_MAX, intFrom } from '../int-setting.js';

/** Settings of code sessions, read from the environment: their interpreters and limits. */
export interface CodeSessionSettings {
  interpreters: Record<'python' | 'bash' | 'javascript', string>;
  defaultTimeoutSeconds: number;
  maxTimeoutSeconds: number;
  maxSourceBytes: number;
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

export const CODE_SESSION_SETTINGS = 'CODE_SESSION_SETTINGS';
