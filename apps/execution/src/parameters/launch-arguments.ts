/** The x-scriptorium-type annotations the catalog puts on each parameter's schema. */
interface ParameterSchema {
  properties?: Record<string, { 'x-scriptorium-type'?: string }>;
}

export interface LaunchArguments {
  args: string[];
  env: Record<string, string>;
  /** What history shows: secrets replaced. */
  masked: Record<string, unknown>;
}

export const SECRET_MASK = '••••••';

function envName(parameter: string) {
  return `SCRIPTORIUM_SECRET_${parameter.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

/**
 * Turns validated parameters into `--name value` arguments in declaration order.
 * Secrets go to environment variables (never argv, which other users can read in ps).
 */
export function launchArguments(schemaJson: string, values: Record<string, unknown>): LaunchArguments {
  const schema = JSON.parse(schemaJson) as ParameterSchema;
  const result: LaunchArguments = { args: [], env: {}, masked: {} };
  for (const [name, property] of Object.entries(schema.properties ?? {})) {
    const value = values[name];
    if (value === undefined || value === null) continue;
    if (property['x-scriptorium-type'] === 'secret') {
      result.env[envName(name)] = String(value);
      result.masked[name] = SECRET_MASK;
      continue;
    }
    result.masked[name] = value;
    result.args.push(`--${name}`, typeof value === 'object' ? JSON.stringify(value) : String(value));
  }
  return result;
}
