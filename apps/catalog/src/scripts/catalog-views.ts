import { LANGUAGES, isLevel, levelAtLeast, type Language, type Level } from '#contracts/levels.js';
import type { Group, Script } from '#contracts/generated/scriptorium/catalog/v1/catalog.js';
import { localize, type Localized } from '../discovery/localized.js';
import type { GroupDefinition, ScriptDefinition } from '../discovery/loader.js';
import { buildParametersSchema } from '../discovery/parameters.js';

/** Pure functions turning stored definitions into API messages, filtered by the caller's level. */

/** True when a caller at `callerLevel` may see something requiring `required` (unknown levels are never visible). */
export function canSee(callerLevel: Level, required: string): boolean {
  return isLevel(required) && levelAtLeast(callerLevel, required);
}

export function groupMessage(group: GroupDefinition, scriptCount: number, language: Language): Group {
  return {
    id: group.id,
    name: localize(group.name, language) || group.id,
    description: localize(group.description, language),
    icon: group.icon,
    requiredLevel: group.requiredLevel,
    category: group.category,
    scriptCount,
    names: localizedMap(group.name),
    errors: [...group.problems],
  };
}

/** A Localized as a plain map for the API (only languages present). */
export function localizedMap(text: Localized | undefined): Record<string, string> {
  const map: Record<string, string> = {};
  for (const language of LANGUAGES) if (text?.[language] !== undefined) map[language] = text[language]!;
  return map;
}

/** The Script message; `source` (GetScript only) adds the runtime block. */
export function scriptMessage(script: ScriptDefinition, language: Language, source?: string): Script {
  return {
    id: script.id,
    groupId: script.groupId,
    file: script.file,
    name: localize(script.name, language) || script.file,
    description: localize(script.description, language),
    requiredLevel: script.requiredLevel,
    category: script.category,
    tags: script.tags,
    parametersJson: JSON.stringify(script.declaredParameters),
    parametersSchemaJson: JSON.stringify(buildParametersSchema(script.parameters, language)),
    timeoutSeconds: script.timeoutSeconds,
    interactive: script.interactive,
    valid: script.valid,
    error: script.error,
    runtime:
      source === undefined ? undefined : { path: script.path, interpreter: script.interpreter, image: script.image, source },
    names: localizedMap(script.name),
    descriptions: localizedMap(script.description),
    longDescriptionLanguages: LANGUAGES.filter((l) => (script.docs?.[l] ?? '').trim() !== ''),
    hasLongDescription: LANGUAGES.some((l) => (script.docs?.[l] ?? '').trim() !== ''),
    personalTags: [],
    edited: false,
    editedFields: [],
    metadataVersion: 0,
  };
}
