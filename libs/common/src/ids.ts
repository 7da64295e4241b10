/** The textual form of a UUID, as PostgreSQL's uuid type and randomUUID() write it. */
export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True when `value` can be sent to a uuid column; anything else must answer "not found", never reach SQL. */
export function isUuid(value: string): boolean {
  return UUID_PATTERN.test(value);
}
