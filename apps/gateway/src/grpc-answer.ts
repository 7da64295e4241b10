import { firstValueFrom, type Observable } from 'rxjs';

/**
 * The first answer of a gRPC call as a REST body. proto3 `optional` fields come with a synthetic
 * oneof that the loader reports as `_field: 'field'`, and an unset message field comes as null:
 * neither is part of the answer (the field is absent, as the DTO's optional property says).
 */
export async function grpcAnswer<T>(call: Observable<T>): Promise<T> {
  return withoutPresenceMarkers(await firstValueFrom(call)) as T;
}

function withoutPresenceMarkers(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutPresenceMarkers);
  if (!value || typeof value !== 'object' || Buffer.isBuffer(value)) return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([key, inner]) => inner !== null && !(key.startsWith('_') && inner === key.slice(1)))
      .map(([key, inner]) => [key, withoutPresenceMarkers(inner)]),
  );
}
