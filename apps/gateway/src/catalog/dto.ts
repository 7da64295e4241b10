import { Type } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsIn, IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { LANGUAGES, LEVELS } from '#contracts/levels.js';
import type { ScriptMetadataEdit } from '#contracts/generated/scriptorium/catalog/v1/catalog.js';

const EDITABLE = ['description', 'long_description', 'required_level', 'category', 'tags', 'parameters', 'timeout_seconds'];

/**
 * A metadata edit. Absent fields stay as they are; localized fields take
 * {"en": "...", "es": "..."} (or a plain string for English) and change only the
 * languages given ("" drops that language's edit); `reset` names fields whose
 * edit is dropped (back to the header). The catalog checks the values and
 * answers 400 with per-field errors.
 */
export class UpdateMetadataDto {
  @IsOptional()
  description?: Record<string, string> | string;

  @IsOptional()
  longDescription?: Record<string, string> | string;

  @IsOptional()
  @IsIn(LEVELS, { message: `requiredLevel must be one of ${LEVELS.join(', ')}` })
  requiredLevel?: string;

  @IsOptional()
  @IsString({ message: 'category must be text' })
  category?: string;

  @IsOptional()
  @IsArray({ message: 'tags must be a list of tags, e.g. ["etl", "daily"]' })
  @ArrayMaxSize(100)
  tags?: string[];

  /** The parameters array as in the header's @parameters. */
  @IsOptional()
  @IsArray({ message: 'parameters must be a JSON array of parameter objects' })
  parameters?: unknown[];

  @IsOptional()
  @IsInt({ message: 'timeoutSeconds must be a whole number of seconds (0: no limit)' })
  timeoutSeconds?: number;

  @IsOptional()
  @IsArray()
  @IsIn(EDITABLE, { each: true, message: `reset may name ${EDITABLE.join(', ')}` })
  reset?: string[];

  @IsOptional()
  @IsString()
  @MaxLength(500)
  comment?: string;

  /** The version the edit was made on; a newer one makes the edit fail with 409. */
  @IsOptional()
  @IsInt()
  @Min(0)
  expectedVersion?: number;

  @IsOptional()
  @IsIn(LANGUAGES, { message: `language must be one of ${LANGUAGES.join(', ')}` })
  language?: string;
}

export class CommentDto {
  @IsOptional()
  @IsString()
  @MaxLength(500)
  comment?: string;

  @IsOptional()
  @IsIn(LANGUAGES, { message: `language must be one of ${LANGUAGES.join(', ')}` })
  language?: string;
}

export class PersonalTagsDto {
  @IsArray({ message: 'tags must be a list of tags, e.g. ["mine", "weekly"]' })
  @ArrayMaxSize(100)
  tags: string[];
}

export class SearchQuery {
  @IsOptional() @IsString() @MaxLength(200)
  q?: string;

  /** Comma-separated tags. */
  @IsOptional() @IsString() @MaxLength(1000)
  tags?: string;

  @IsOptional() @IsIn(['all', 'any'], { message: 'match must be all or any' })
  match?: string;

  @IsOptional() @IsString() @MaxLength(200)
  group?: string;

  @IsOptional() @IsIn(LANGUAGES, { message: `language must be one of ${LANGUAGES.join(', ')}` })
  language?: string;

  @IsOptional() @Type(() => Number) @IsInt() @Min(0) @Max(10_000)
  limit?: number;

  @IsOptional() @Type(() => Number) @IsInt() @Min(0)
  offset?: number;
}

export class LanguageQuery {
  @IsOptional() @IsIn(LANGUAGES, { message: `language must be one of ${LANGUAGES.join(', ')}` })
  language?: string;
}

function localized(value: Record<string, string> | string | undefined, field: string, errors: Record<string, string>) {
  if (value === undefined) return undefined;
  if (typeof value === 'string') return { values: { en: value } };
  if (!value || typeof value !== 'object' || Array.isArray(value) || Object.values(value).some((v) => typeof v !== 'string')) {
    errors[field] = `${field} must be text or an object of texts by language, e.g. {"en": "...", "es": "..."}`;
    return undefined;
  }
  return { values: value };
}

/** The gRPC edit of a REST body, or the shape problems found. */
export function toEdit(body: UpdateMetadataDto): { edit: ScriptMetadataEdit; errors: Record<string, string> } {
  const errors: Record<string, string> = {};
  const edit: ScriptMetadataEdit = {
    description: localized(body.description, 'description', errors),
    longDescription: localized(body.longDescription, 'longDescription', errors),
    requiredLevel: body.requiredLevel,
    category: body.category,
    tags: body.tags == null ? undefined : { tags: body.tags.map(String) },
    parametersJson: body.parameters == null ? undefined : JSON.stringify(body.parameters),
    timeoutSeconds: body.timeoutSeconds,
  };
  // @IsOptional lets null through as if absent; null is no value of any field, and "drop my edit" is `reset`.
  for (const [field, value] of Object.entries(body)) {
    if (value === null) errors[field] = `${field} must not be null: leave it out to keep it as it is, or name it in "reset" to go back to the header`;
  }
  return { edit, errors };
}

/** "a, b,,c" → ["a", "b", "c"]. */
export function splitTags(text: string | undefined): string[] {
  return (text ?? '').split(',').map((t) => t.trim()).filter(Boolean);
}

