import { ApiProperty } from '@nestjs/swagger';
import { LANGUAGES, LEVELS } from '#contracts/levels.js';

// The REST answers of the catalog. The handlers build them from the gRPC messages (publicScript,
// publicVersion) and declare them as return types, so both ends are checked by the compiler.

export class GroupDto {
  id: string;
  /** In the language asked for (or the caller's), English when missing. */
  name: string;
  description: string;
  icon: string;
  @ApiProperty({ enum: LEVELS, enumName: 'Level' }) requiredLevel: string;
  category: string;
  /** Scripts of the group the caller may see. */
  @ApiProperty({ type: 'integer' }) scriptCount: number;
  /** The name in every language it has ("en", "es", …). */
  names: Record<string, string>;
  /** Problems of metadata.json or scripts/script_metadata.json, empty when none. */
  errors: string[];
}

/** A script as the browser sees it: everything but how the runtime starts it. */
export class ScriptDto {
  /** `<group>/<file>` */
  id: string;
  groupId: string;
  file: string;
  name: string;
  description: string;
  @ApiProperty({ enum: LEVELS, enumName: 'Level' }) requiredLevel: string;
  category: string;
  tags: string[];
  /** The declared parameters, as in the script header's @parameters. */
  @ApiProperty({ type: 'array', items: { type: 'object', additionalProperties: true } }) parameters: Record<string, unknown>[];
  /** JSON Schema (draft 2020-12) of the parameters object. */
  @ApiProperty({ type: 'object', additionalProperties: true }) parametersSchema: Record<string, unknown>;
  /** 0: no limit. */
  @ApiProperty({ type: 'integer' }) timeoutSeconds: number;
  /** Serves its own web interface in a session while it runs. */
  interactive: boolean;
  valid: boolean;
  /** Why the script is invalid (with the header line), empty when valid. */
  error: string;
  /** The name in every language it has. */
  names: Record<string, string>;
  /** Languages with a long description (Markdown documentation). */
  @ApiProperty({ enum: LANGUAGES, enumName: 'Language', isArray: true }) longDescriptionLanguages: string[];
  hasLongDescription: boolean;
  /** The caller's personal tags on this script. */
  personalTags: string[];
  /** True while edits made in the UI override the header. */
  edited: boolean;
  /** The fields those edits override. */
  editedFields: string[];
  /** Current metadata version (0: never edited). */
  @ApiProperty({ type: 'integer' }) metadataVersion: number;
  /** The short description in every language it has. */
  descriptions: Record<string, string>;
}

export class ScriptSearchDto {
  /** How many scripts matched, before paging. */
  @ApiProperty({ type: 'integer' }) total: number;
  scripts: ScriptDto[];
}

export class TagCountDto {
  tag: string;
  @ApiProperty({ type: 'integer' }) count: number;
}

export class ScriptTagsDto {
  scriptId: string;
  systemTags: string[];
  personalTags: string[];
}

export class MetadataVersionDto {
  @ApiProperty({ type: 'integer' }) version: number;
  @ApiProperty({ enum: ['edit', 'reparse', 'revert'] }) action: string;
  authorId: string;
  authorName: string;
  @ApiProperty({ format: 'date-time' }) createdAt: string;
  comment: string;
  /** The overrides in force after this version. */
  @ApiProperty({ type: 'object', additionalProperties: true }) overrides: Record<string, unknown>;
  /** The fields this version changed. */
  changedFields: string[];
  /** For a revert: the version it went back to. */
  @ApiProperty({ type: 'integer', required: false }) revertedTo?: number;
}

export class MetadataVersionsDto {
  @ApiProperty({ type: 'integer' }) currentVersion: number;
  versions: MetadataVersionDto[];
}

export class ScriptDocumentationDto {
  scriptId: string;
  /** The language asked for (or the caller's). */
  requestedLanguage: string;
  /** The language served. */
  @ApiProperty({ enum: LANGUAGES, enumName: 'Language' }) language: string;
  /** True when the served language is not the one asked for. */
  fallback: boolean;
  markdown: string;
  /** Sanitized HTML (tables, highlighted code, KaTeX math); empty when none. */
  html: string;
  @ApiProperty({ enum: LANGUAGES, enumName: 'Language', isArray: true }) availableLanguages: string[];
  /** Where the text comes from: the docs files or header, or an edit. */
  @ApiProperty({ enum: ['header', 'edit'] }) source: string;
}
