import { readdirSync, readFileSync, statSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { basename, extname, join, posix } from 'node:path';
import { LEVELS, LANGUAGES, isLevel, type Level } from '#contracts/levels.js';
import { emptyHeader, formatProblem, parseJsonWithLine, parseScriptHeader, type ScriptHeader } from './header-parser.js';
import { toLocalized, type Localized } from './localized.js';
import { parseParameters, type ParameterSpec } from './parameters.js';

/** File extensions the catalog lists as scripts. */
export const SCRIPT_EXTENSIONS = ['.py', '.sh', '.js'] as const;
export const GROUP_METADATA_FILE = 'metadata.json';
export const SCRIPT_OVERRIDES_FILE = 'scripts/script_metadata.json';
const MAX_SCRIPT_BYTES = 1024 * 1024;
/** Groups read at once during a full scan (reads are synchronous, see readText). */
const GROUP_CONCURRENCY = 1;
/** The level a group or script gets when its declared level cannot be read: authors still see the error. */
const UNREADABLE_LEVEL: Level = 'developer';

export interface DiscoveryOptions {
  /** Interpreter of .py scripts when the group names none. */
  pythonInterpreter: string;
  /** Image of the kubernetes runtime for .py and .sh scripts when the group names none. */
  defaultImage: string;
  /** Image for .js scripts when the group names none. */
  nodeImage: string;
}

export interface GroupEnvironment {
  /** The seed's `conda_environment` (informational: shown to users, used by images that have conda). */
  conda?: string;
  /** Interpreter of the group's Python scripts. */
  interpreter?: string;
  /** Interpreters by extension, e.g. {".sh": "/bin/sh"}; wins over `interpreter`. */
  interpreters: Record<string, string>;
  image?: string;
}

export interface GroupDefinition {
  id: string;
  name: Localized;
  description: Localized;
  icon: string;
  requiredLevel: Level;
  category: string;
  environment: GroupEnvironment;
  executionTimeout?: number;
  autoDiscovery: boolean;
  /** Problems of metadata.json or script_metadata.json; every script of the group reports them. */
  problems: string[];
}

export interface ScriptDefinition {
  /** "<group>/<file>" */
  id: string;
  groupId: string;
  /** Path relative to the group folder, e.g. "greet.py" or "scripts/tool.py". */
  file: string;
  /** Absolute path on the catalog's file system. */
  path: string;
  name: Localized;
  description: Localized;
  /** Long description (Markdown) per language, from docs/<script>[_<lang>].md or the header. */
  docs: Localized;
  /** Effective level: the higher of the group's and the script's. */
  requiredLevel: Level;
  category: string;
  tags: string[];
  /** The declared parameters as written (header or override). */
  declaredParameters: unknown[];
  parameters: ParameterSpec[];
  timeoutSeconds: number;
  interactive: boolean;
  valid: boolean;
  error: string;
  interpreter: string;
  image: string;
  /** Unknown header keys and override extras, kept for the UI. */
  extra: Record<string, unknown>;
}

export interface DiscoveredScript {
  definition: ScriptDefinition;
  source: string;
}

export interface CatalogSnapshot {
  groups: GroupDefinition[];
  scripts: DiscoveredScript[];
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

export function higherLevel(a: Level, b: Level): Level {
  return LEVELS.indexOf(a) >= LEVELS.indexOf(b) ? a : b;
}

/** "backup_system" → "Backup system". */
export function humanize(stem: string): string {
  const words = stem.replace(/[_-]+/g, ' ').trim();
  return words ? words[0].toUpperCase() + words.slice(1) : stem;
}

function positiveInt(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 && value <= 2_147_483_647 ? value : undefined;
}

/** Reads a group's metadata.json content (already parsed or the text) into a definition. */
export function parseGroupMetadata(id: string, text: string | undefined): GroupDefinition {
  const group: GroupDefinition = {
    id,
    name: { en: humanize(id) },
    description: {},
    icon: 'folder',
    requiredLevel: 'viewer',
    category: '',
    environment: { interpreters: {} },
    autoDiscovery: true,
    problems: [],
  };
  const problem = (message: string) => group.problems.push(`${GROUP_METADATA_FILE}: ${message}`);
  if (text === undefined) return group;
  const parsed = parseJsonWithLine(text);
  if (parsed.error) {
    group.requiredLevel = UNREADABLE_LEVEL;
    problem(`line ${parsed.error.line}: not valid JSON: ${parsed.error.message}`);
    return group;
  }
  const raw = parsed.value;
  if (!isPlainObject(raw)) {
    group.requiredLevel = UNREADABLE_LEVEL;
    problem('must be a JSON object');
    return group;
  }
  if (raw.name !== undefined) {
    const name = toLocalized(raw.name);
    if (name) group.name = name;
    else problem('"name" must be a string or an object keyed by language');
  }
  if (raw.description !== undefined) {
    const description = toLocalized(raw.description);
    if (description) group.description = description;
    else problem('"description" must be a string or an object keyed by language');
  }
  if (typeof raw.icon === 'string') group.icon = raw.icon;
  if (typeof raw.category === 'string') group.category = raw.category;
  if (raw.required_level !== undefined) {
    if (isLevel(raw.required_level)) group.requiredLevel = raw.required_level;
    else {
      group.requiredLevel = UNREADABLE_LEVEL;
      problem(`"required_level" ${JSON.stringify(raw.required_level)} is not a level (use ${LEVELS.join(', ')})`);
    }
  }
  if (raw.conda_environment !== undefined) {
    if (typeof raw.conda_environment === 'string') group.environment.conda = raw.conda_environment;
    else problem('"conda_environment" must be a string');
  }
  if (raw.environment !== undefined) {
    const env = raw.environment;
    if (!isPlainObject(env)) problem('"environment" must be an object like {"interpreter": "...", "image": "..."}');
    else {
      for (const key of ['interpreter', 'image', 'conda'] as const) {
        if (env[key] === undefined) continue;
        if (typeof env[key] !== 'string' || !env[key]) problem(`"environment.${key}" must be a non-empty string`);
        else group.environment[key] = env[key];
      }
      if (env.interpreters !== undefined) {
        if (!isPlainObject(env.interpreters)) problem('"environment.interpreters" must map extensions to interpreters');
        else {
          for (const [ext, interpreter] of Object.entries(env.interpreters)) {
            if (typeof interpreter !== 'string' || !interpreter) problem(`"environment.interpreters.${ext}" must be a non-empty string`);
            else group.environment.interpreters[ext.startsWith('.') ? ext : `.${ext}`] = interpreter;
          }
        }
      }
    }
  }
  if (raw.execution_timeout !== undefined) {
    const seconds = positiveInt(raw.execution_timeout);
    if (seconds === undefined) problem('"execution_timeout" must be a whole number of seconds above 0');
    else group.executionTimeout = seconds;
  }
  if (raw.auto_discovery !== undefined) {
    if (typeof raw.auto_discovery !== 'boolean') problem('"auto_discovery" must be true or false');
    else group.autoDiscovery = raw.auto_discovery;
  }
  return group;
}

/** One entry of scripts/script_metadata.json, with the line where it starts (for messages). */
export interface ScriptOverride {
  values: Record<string, unknown>;
  line: number;
}

/** Parses scripts/script_metadata.json into entries keyed by file name; problems go to the group. */
export function parseOverrides(text: string | undefined, group: GroupDefinition): Map<string, ScriptOverride> {
  const overrides = new Map<string, ScriptOverride>();
  if (text === undefined) return overrides;
  const parsed = parseJsonWithLine(text);
  if (parsed.error) {
    group.problems.push(`${SCRIPT_OVERRIDES_FILE}: line ${parsed.error.line}: not valid JSON: ${parsed.error.message}`);
    return overrides;
  }
  if (!isPlainObject(parsed.value)) {
    group.problems.push(`${SCRIPT_OVERRIDES_FILE}: must be an object keyed by script file name`);
    return overrides;
  }
  const lines = text.split('\n');
  for (const [file, values] of Object.entries(parsed.value)) {
    const quoted = JSON.stringify(file);
    const line = lines.findIndex((l) => l.includes(quoted)) + 1;
    if (!isPlainObject(values)) {
      group.problems.push(`${SCRIPT_OVERRIDES_FILE}: line ${line}: the entry of ${quoted} must be an object`);
      continue;
    }
    overrides.set(file, { values, line });
  }
  return overrides;
}

function mergeLocalized(base: Localized, override: unknown): Localized | undefined {
  const text = toLocalized(override);
  return text ? { ...base, ...text } : undefined;
}

export interface ScriptInput {
  group: GroupDefinition;
  /** Path relative to the group folder. */
  file: string;
  /** Absolute path. */
  path: string;
  source: string;
  override?: ScriptOverride;
  /** Markdown files of the group by relative path ("docs/greet_es.md" → content). */
  docs: Map<string, string>;
  options: DiscoveryOptions;
  /** Set when the file could not be read as a script; the script is listed invalid with it. */
  readProblem?: string;
}

/** Resolves a script from its header, its override entry and its group. Pure: never touches the disk. */
export function buildScript(input: ScriptInput): ScriptDefinition {
  const { group, file, override, docs, options } = input;
  const problems: string[] = [];
  const parsed = input.readProblem ? { header: emptyHeader(), problems: [] } : parseScriptHeader(input.source);
  const h: ScriptHeader = parsed.header;
  const headerProblems = parsed.problems;
  if (input.readProblem) problems.push(input.readProblem);
  problems.push(...headerProblems.map(formatProblem));

  const extension = extname(file);
  const stem = basename(file, extension);
  let name: Localized = Object.keys(h.name).length ? { ...h.name } : { en: humanize(stem) };
  let description: Localized = { ...h.description };
  let docRefs: Localized = { ...h.descriptionLong };
  let declaredLevel: Level | undefined = h.requiredLevel;
  let levelBroken = headerProblems.some((p) => p.message.startsWith('@required_level'));
  let category = h.category ?? '';
  let tags = h.tags ?? [];
  let declaredParameters: unknown = h.parameters;
  let parametersWhere = h.parametersLine ? `line ${h.parametersLine}: @parameters` : '@parameters';
  let timeout = h.executionTimeout;
  let interactive = h.interactive ?? h.flaskPort !== undefined;
  const extra: Record<string, unknown> = { ...h.extra };

  if (override) {
    const o = override.values;
    const where = `${SCRIPT_OVERRIDES_FILE}: line ${override.line}`;
    const bad = (key: string, what: string) => problems.push(`${where}: "${key}" ${what}`);
    for (const key of ['display_name', 'name'] as const) {
      if (o[key] === undefined) continue;
      const merged = mergeLocalized(name, o[key]);
      if (merged) name = merged;
      else bad(key, 'must be a string or an object keyed by language');
    }
    if (o.description !== undefined) {
      const merged = mergeLocalized(description, o.description);
      if (merged) description = merged;
      else bad('description', 'must be a string or an object keyed by language');
    }
    if (o.description_long !== undefined) {
      const merged = mergeLocalized(docRefs, o.description_long);
      if (merged) docRefs = merged;
      else bad('description_long', 'must be a string or an object keyed by language');
    }
    if (o.required_level !== undefined) {
      if (isLevel(o.required_level)) {
        declaredLevel = o.required_level;
        levelBroken = false;
      } else {
        bad('required_level', `${JSON.stringify(o.required_level)} is not a level (use ${LEVELS.join(', ')})`);
        levelBroken = true;
      }
    }
    if (o.category !== undefined) {
      if (typeof o.category === 'string') category = o.category;
      else bad('category', 'must be a string');
    }
    if (o.tags !== undefined) {
      if (typeof o.tags === 'string') tags = o.tags.split(',').map((t) => t.trim()).filter(Boolean);
      else if (Array.isArray(o.tags) && o.tags.every((t) => typeof t === 'string')) tags = (o.tags as string[]).map((t) => t.trim()).filter(Boolean);
      else bad('tags', 'must be an array of strings');
      tags = [...new Set(tags)];
    }
    if (o.parameters !== undefined) {
      declaredParameters = o.parameters;
      parametersWhere = `${where}: "parameters"`;
    }
    if (o.execution_timeout !== undefined) {
      const seconds = positiveInt(o.execution_timeout);
      if (seconds === undefined) bad('execution_timeout', 'must be a whole number of seconds above 0');
      else timeout = seconds;
    }
    if (o.interactive !== undefined) {
      if (typeof o.interactive === 'boolean') interactive = o.interactive;
      else bad('interactive', 'must be true or false');
    } else if (o.flask_port !== undefined) {
      interactive = true;
    }
    for (const [key, value] of Object.entries(o)) {
      if (!['display_name', 'name', 'description', 'description_long', 'required_level', 'category', 'tags', 'parameters', 'execution_timeout', 'interactive', 'flask_port'].includes(key)) {
        extra[key] = value;
      }
    }
  }

  let parameters: ParameterSpec[] = [];
  let declared: unknown[] = [];
  if (declaredParameters !== undefined) {
    const result = parseParameters(declaredParameters);
    if (Array.isArray(declaredParameters)) declared = declaredParameters;
    parameters = result.parameters;
    problems.push(...result.problems.map((p) => `${parametersWhere}: ${p}`));
  }

  // Long descriptions: the declared docs path (or inline Markdown), else docs/<stem>[_<lang>].md.
  const documentation: Localized = {};
  for (const language of LANGUAGES) {
    const ref = docRefs[language];
    if (ref !== undefined && ref.trim()) {
      if (/\.md$/i.test(ref.trim())) {
        const normalized = posix.normalize(ref.trim().replace(/\\/g, '/'));
        const content = normalized.startsWith('..') || posix.isAbsolute(normalized) ? undefined : docs.get(normalized);
        if (content !== undefined) documentation[language] = content;
      } else {
        documentation[language] = ref;
      }
    }
    if (documentation[language] === undefined) {
      const conventional = docs.get(`docs/${stem}${language === 'en' ? '' : `_${language}`}.md`);
      if (conventional !== undefined) documentation[language] = conventional;
    }
  }

  problems.unshift(...group.problems);
  const scriptLevel = levelBroken ? higherLevel(declaredLevel ?? 'viewer', UNREADABLE_LEVEL) : (declaredLevel ?? 'viewer');
  const env = group.environment;
  const interpreter =
    env.interpreters[extension] ??
    (extension === '.py' ? (env.interpreter ?? options.pythonInterpreter) : extension === '.sh' ? '/bin/bash' : process.execPath);
  return {
    id: `${group.id}/${file}`,
    groupId: group.id,
    file,
    path: input.path,
    name,
    description,
    docs: documentation,
    requiredLevel: higherLevel(group.requiredLevel, scriptLevel),
    category: category || group.category,
    tags,
    declaredParameters: declared,
    parameters,
    timeoutSeconds: timeout ?? group.executionTimeout ?? 0,
    interactive,
    valid: problems.length === 0,
    error: problems.join('; '),
    interpreter,
    image: env.image ?? (extension === '.js' ? options.nodeImage : options.defaultImage),
    extra,
  };
}

/**
 * File reads of a scan are synchronous on purpose: a group's files are small and
 * read in well under a millisecond each, while 10,000 async reads through the
 * 4-thread libuv pool cost seconds of round trips. The scan yields to the event
 * loop between groups, so requests are never held up for more than one group.
 */
async function readText(path: string): Promise<string | undefined> {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

async function listFiles(dir: string): Promise<string[]> {
  try {
    const entries = readdirSync(dir, { withFileTypes: true });
    return entries.filter((e) => e.isFile()).map((e) => e.name);
  } catch {
    return [];
  }
}

/** True for a file name the catalog treats as a script. */
export function isScriptFile(name: string): boolean {
  return (SCRIPT_EXTENSIONS as readonly string[]).includes(extname(name)) && !name.startsWith('_') && !name.startsWith('.');
}

/** Loads one group folder (which has a metadata.json) with all its scripts. */
export async function loadGroup(dir: string, id: string, options: DiscoveryOptions): Promise<CatalogSnapshot> {
  const group = parseGroupMetadata(id, await readText(join(dir, GROUP_METADATA_FILE)));
  const overrides = parseOverrides(await readText(join(dir, SCRIPT_OVERRIDES_FILE)), group);
  const docs = new Map<string, string>();
  // Reads run concurrently: a scan is bound by file-system round trips, not CPU.
  const docNames = (await listFiles(join(dir, 'docs'))).filter((name) => name.toLowerCase().endsWith('.md'));
  const docTexts = await Promise.all(docNames.map((name) => readText(join(dir, 'docs', name))));
  docNames.forEach((name, i) => docs.set(`docs/${name}`, docTexts[i] ?? ''));
  const candidates = [
    ...(await listFiles(dir)).filter(isScriptFile),
    ...(await listFiles(join(dir, 'scripts'))).filter(isScriptFile).map((n) => `scripts/${n}`),
  ].sort();
  const selected = candidates.filter((file) => group.autoDiscovery || overrides.has(file) || overrides.has(basename(file)));
  const scripts: DiscoveredScript[] = await Promise.all(
    selected.map(async (file) => {
      const override = overrides.get(file) ?? overrides.get(basename(file));
      const path = join(dir, file);
      let source = '';
      let readProblem: string | undefined;
      try {
        const size = statSync(path).size;
        if (size > MAX_SCRIPT_BYTES) readProblem = `the file is ${size} bytes, above the limit of ${MAX_SCRIPT_BYTES}`;
        else source = (await readText(path)) ?? '';
      } catch (error) {
        readProblem = `cannot read the file: ${(error as Error).message}`;
      }
      const definition = buildScript({ group, file, path, source, override, docs, options, readProblem });
      return { definition, source };
    }),
  );
  return { groups: [group], scripts };
}

/** Scans the script groups folder: every subfolder holding a metadata.json is a group. */
export async function discoverCatalog(root: string, options: DiscoveryOptions): Promise<CatalogSnapshot> {
  const snapshot: CatalogSnapshot = { groups: [], scripts: [] };
  let entries;
  try {
    entries = await readdir(root, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return snapshot;
    throw error;
  }
  const dirs = entries
    .sort((a, b) => a.name.localeCompare(b.name))
    .filter((entry) => entry.isDirectory() && !entry.name.startsWith('.'));
  // Groups load concurrently (bounded), and are put back in name order.
  const loaded: (CatalogSnapshot | undefined)[] = new Array(dirs.length);
  let next = 0;
  const worker = async () => {
    while (next < dirs.length) {
      const i = next++;
      await new Promise((resolve) => setImmediate(resolve));
      const dir = join(root, dirs[i].name);
      loaded[i] = (await listFiles(dir)).includes(GROUP_METADATA_FILE) ? await loadGroup(dir, dirs[i].name, options) : undefined;
    }
  };
  await Promise.all(Array.from({ length: Math.min(GROUP_CONCURRENCY, dirs.length) }, worker));
  for (const group of loaded) {
    if (!group) continue;
    snapshot.groups.push(...group.groups);
    snapshot.scripts.push(...group.scripts);
  }
  return snapshot;
}
