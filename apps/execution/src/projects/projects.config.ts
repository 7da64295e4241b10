import { GRPC_SAFE_MAX, intFrom } from '../int-setting.js';

/**
 * Settings of projects, read from the environment (like the service config, but kept with
 * this module): limits of the data API.
 */
export interface ProjectSettings {
  /** Largest file the data API writes or reads, in bytes (below gRPC's 4 MiB message limit). */
  maxFileBytes: number;
}

export function projectSettings(env: NodeJS.ProcessEnv = process.env): ProjectSettings {
  return { maxFileBytes: intFrom(env, 'PROJECT_FILE_MAX_BYTES', 2 * 1024 * 1024, 1, GRPC_SAFE_MAX) };
}

export const PROJECT_SETTINGS = 'PROJECT_SETTINGS';
