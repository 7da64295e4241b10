/** The largest payload a setting may allow through one gRPC message (below its 4 MiB limit). */
export const GRPC_SAFE_MAX = 3 * 1024 * 1024;

/** An integer setting from the environment within [min, max]; start-up fails naming the variable otherwise. */
export function intFrom(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name} must be an integer between ${min} and ${max}, got "${raw}"`);
  }
  return value;
}
