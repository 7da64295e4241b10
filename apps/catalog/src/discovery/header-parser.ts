import { LEVELS, isLanguage, isLevel, type Level } from '#contracts/levels.js';
import type { Localized } from './localized.js';

/**
 * Parser of the "ScriptsManager Metadata" header of a script:
 *
 *   """
 *   ScriptsManager Metadata:
 *   @description: Creates a complete system backup
 *   @required_level: admin
 *   @parameters: [ {"name": "destination", "type": "path", "required": true} ]
 *   """
 *
 * in a Python docstring, or the same `@key: value` lines in a leading comment
 * block (`# ` for shell, `// ` or a `/* … *\/` block for JavaScript).
 */

export const HEADER_MARKER = 'ScriptsManager Metadata:';

/** How far into a file the marker is looked for. */
const MAX_HEADER_SEARCH_LINES = 200;

/** One problem of a header, with the 1-based line of the file it concerns. */
export interface HeaderProblem {
  line: number;
  message: string;
}

export const formatProblem = (p: HeaderProblem) => `line ${p.line}: ${p.message}`;

/** One `@key: value` entry as written (continuation lines joined). */
export interface HeaderField {
  key: string;
  value: string;
  line: number;
}

/** The typed content of a header. Absent keys are undefined. */
export interface ScriptHeader {
  /** False when the file has no metadata header at all. */
  found: boolean;
  /** Line of the marker, 0 when not found. */
  line: number;
  name: Localized;
  description: Localized;
  /** `@description_long[_<lang>]`: a path relative to the group folder (docs/x.md) or inline Markdown. */
  descriptionLong: Localized;
  requiredLevel?: Level;
  category?: string;
  tags?: string[];
  /** The declared `@parameters` array, unchecked (see parameters.ts). */
  parameters?: unknown;
  /** Line of `@parameters`, to locate problems in it. */
  parametersLine?: number;
  executionTimeout?: number;
  interactive?: boolean;
  /** `@flask_port` as written; its presence marks the script interactive. */
  flaskPort?: number;
  /** Keys this parser does not know, kept as written. */
  extra: Record<string, string>;
}

export interface ParsedHeader {
  header: ScriptHeader;
  problems: HeaderProblem[];
}

interface BodyLine {
  text: string;
  line: number;
}

type Extracted = { body: BodyLine[]; markerLine: number; problems: HeaderProblem[] } | undefined;

const QUOTE_OPEN = /^[rRuU]?("""|''')/;
const COMMENT_MARKER = /^(#+|\/\/+|\/\*+|\*)\s*/;

/** Finds the header block and returns its lines, without quotes or comment prefixes. */
export function extractHeaderBlock(source: string): Extracted {
  const lines = source.split(/\r\n|\n|\r/);
  const limit = Math.min(lines.length, MAX_HEADER_SEARCH_LINES);
  let m = -1;
  for (let i = 0; i < limit; i++) {
    if (lines[i].includes(HEADER_MARKER)) {
      m = i;
      break;
    }
  }
  if (m < 0) return undefined;
  const marker = lines[m];
  const trimmed = marker.trimStart();
  const afterMarker = marker.slice(marker.indexOf(HEADER_MARKER) + HEADER_MARKER.length);
  const problems: HeaderProblem[] = [];
  const body: BodyLine[] = [];

  const docstring = (quote: string, firstBodyIndex: number, firstText?: string) => {
    if (firstText !== undefined) {
      const close = firstText.indexOf(quote);
      if (close >= 0) return void body.push({ text: firstText.slice(0, close), line: m + 1 });
      if (firstText.trim()) body.push({ text: firstText, line: m + 1 });
    }
    for (let i = firstBodyIndex; i < lines.length; i++) {
      const close = lines[i].indexOf(quote);
      if (close >= 0) {
        if (lines[i].slice(0, close).trim()) body.push({ text: lines[i].slice(0, close), line: i + 1 });
        return;
      }
      body.push({ text: lines[i], line: i + 1 });
    }
    problems.push({ line: m + 1, message: `the metadata docstring is never closed (missing ${quote})` });
  };

  const blockComment = (firstBodyIndex: number, firstText: string) => {
    const strip = (text: string) => text.replace(/^\s*\*(?!\/)\s?/, '');
    const take = (text: string, line: number) => {
      const close = text.indexOf('*/');
      if (close >= 0) {
        if (text.slice(0, close).trim()) body.push({ text: strip(text.slice(0, close)), line });
        return true;
      }
      body.push({ text: strip(text), line });
      return false;
    };
    if (take(firstText, m + 1)) return;
    for (let i = firstBodyIndex; i < lines.length; i++) if (take(lines[i], i + 1)) return;
    problems.push({ line: m + 1, message: 'the metadata comment block is never closed (missing */)' });
  };

  const lineComments = (prefix: '#' | '//') => {
    const pattern = prefix === '#' ? /^\s*#+ ?/ : /^\s*\/\/+ ?/;
    if (afterMarker.trim()) body.push({ text: afterMarker, line: m + 1 });
    for (let i = m + 1; i < lines.length && pattern.test(lines[i]); i++) {
      body.push({ text: lines[i].replace(pattern, ''), line: i + 1 });
    }
  };

  const quoted = QUOTE_OPEN.exec(trimmed);
  const comment = COMMENT_MARKER.exec(trimmed);
  if (quoted && trimmed.slice(quoted[0].length).trimStart().startsWith(HEADER_MARKER)) {
    docstring(quoted[1], m + 1, afterMarker);
  } else if (comment && trimmed.slice(comment[0].length).startsWith(HEADER_MARKER)) {
    const kind = comment[1];
    if (kind.startsWith('#')) lineComments('#');
    else if (kind.startsWith('//')) lineComments('//');
    else blockComment(m + 1, afterMarker);
  } else if (trimmed.startsWith(HEADER_MARKER)) {
    // The marker on its own line: look at what opened the block above it.
    let p = m - 1;
    while (p >= 0 && !lines[p].trim()) p--;
    const opener = p >= 0 ? lines[p].trim() : '';
    const openQuote = QUOTE_OPEN.exec(opener);
    if (openQuote && opener.slice(openQuote[0].length).trim() === '') docstring(openQuote[1], m + 1, afterMarker);
    else if (/^\/\*+$/.test(opener)) blockComment(m + 1, afterMarker);
    else return { body, markerLine: m + 1, problems: [{ line: m + 1, message: `"${HEADER_MARKER}" must open a docstring or a comment block` }] };
  } else {
    return { body, markerLine: m + 1, problems: [{ line: m + 1, message: `"${HEADER_MARKER}" must open a docstring or a comment block` }] };
  }
  return { body, markerLine: m + 1, problems };
}

const KEY_LINE = /^\s*@([A-Za-z][A-Za-z0-9_]*)\s*:(.*)$/;

/**
 * Where the JSON value that starts at `text[0]` ends (index after its last character),
 * or -1 when it never closes. Strings and escapes are respected.
 */
function endOfJsonValue(text: string): number {
  let depth = 0;
  let inString = false;
  let started = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '[' || c === '{') {
      depth++;
      started = true;
    } else if (c === ']' || c === '}') {
      depth--;
      if (started && depth <= 0) return i + 1;
    } else if (!started && !/\s/.test(c)) {
      return -1;
    }
  }
  return -1;
}

/** Splits the block into `@key: value` fields; `@parameters` may span lines until its JSON closes. */
export function splitFields(body: BodyLine[]): HeaderField[] {
  const fields: HeaderField[] = [];
  let current: { key: string; line: number; parts: string[]; json: boolean; closed: boolean } | undefined;
  const finish = () => {
    if (!current) return;
    const value = current.json ? current.parts.join('\n').trim() : current.parts.map((p) => p.trim()).filter(Boolean).join(' ');
    fields.push({ key: current.key, value, line: current.line });
    current = undefined;
  };
  for (const { text, line } of body) {
    const key = KEY_LINE.exec(text);
    if (key) {
      finish();
      const name = key[1].toLowerCase();
      current = { key: name, line, parts: [key[2]], json: name === 'parameters', closed: false };
      if (current.json) current.closed = endOfJsonValue(current.parts.join('\n')) >= 0;
      continue;
    }
    if (!current) continue; // prose before the first key
    if (current.json) {
      if (current.closed) continue; // prose after the parameters array
      current.parts.push(text);
      current.closed = endOfJsonValue(current.parts.join('\n')) >= 0;
    } else if (!text.trim()) {
      finish(); // a blank line ends a text value; what follows is prose until the next key
    } else {
      current.parts.push(text);
    }
  }
  finish();
  return fields;
}

/** A JSON syntax error's message without V8's position and quoted source, and its offset when known. */
function describeJsonError(error: Error, text: string): { message: string; offset?: number } {
  const raw = error.message;
  const position = /at position (\d+)/.exec(raw);
  let message = raw
    .replace(/ in JSON at position \d+.*$/s, '')
    .replace(/, ".*" is not valid JSON$/s, '')
    .replace(/ \(line \d+ column \d+\)$/, '');
  let offset = position ? Number(position[1]) : undefined;
  if (offset === undefined) {
    const token = /^Unexpected token '(.+?)'/.exec(raw)?.[1];
    if (token !== undefined) {
      // Locate the first occurrence of the token outside strings.
      let inString = false;
      for (let i = 0; i < text.length; i++) {
        const c = text[i];
        if (inString) {
          if (c === '\\') i++;
          else if (c === '"') inString = false;
        } else if (c === '"') inString = true;
        else if (text.startsWith(token, i)) {
          offset = i;
          break;
        }
      }
    }
  }
  if (/Unexpected end of JSON input/.test(raw)) {
    offset = text.length;
    message = 'the JSON ends too early (an unclosed bracket or string)';
  }
  return { message, offset };
}

function lineOf(text: string, offset: number): number {
  let count = 0;
  for (let i = 0; i < Math.min(offset, text.length); i++) if (text[i] === '\n') count++;
  return count;
}

/** Parses JSON text; on a syntax error returns the message and the 1-based line of the text where it is. */
export function parseJsonWithLine(text: string): { value?: unknown; error?: { message: string; line: number } } {
  try {
    return { value: JSON.parse(text) };
  } catch (error) {
    const { message, offset } = describeJsonError(error as Error, text);
    return { error: { message, line: 1 + (offset === undefined ? 0 : lineOf(text, offset)) } };
  }
}

function parseBoolean(value: string): boolean | undefined {
  const v = value.trim().toLowerCase();
  if (['true', 'yes', '1', 'on'].includes(v)) return true;
  if (['false', 'no', '0', 'off'].includes(v)) return false;
  return undefined;
}

function parsePositiveInt(value: string): number | undefined {
  return /^\d+$/.test(value.trim()) && Number(value) > 0 && Number(value) <= 2_147_483_647 ? Number(value) : undefined;
}

export function emptyHeader(): ScriptHeader {
  return { found: false, line: 0, name: {}, description: {}, descriptionLong: {}, extra: {} };
}

/** Parses the metadata header of a script's source. Never throws: problems are returned with their lines. */
export function parseScriptHeader(source: string): ParsedHeader {
  const header = emptyHeader();
  const extracted = extractHeaderBlock(source);
  if (!extracted) return { header, problems: [] };
  header.found = true;
  header.line = extracted.markerLine;
  const problems = [...extracted.problems];
  for (const field of splitFields(extracted.body)) {
    const { key, value, line } = field;
    const localized = /^(description_long|description|name|display_name)(?:_([a-z]{2}))?$/.exec(key);
    if (localized) {
      const [, base, language = 'en'] = localized;
      if (!isLanguage(language)) {
        problems.push({ line, message: `@${key}: language "${language}" is not supported (use en, es, it, fr)` });
        continue;
      }
      const target = base === 'description_long' ? header.descriptionLong : base === 'description' ? header.description : header.name;
      target[language] = value;
      continue;
    }
    switch (key) {
      case 'required_level': {
        const level = value.trim().toLowerCase();
        if (isLevel(level)) header.requiredLevel = level;
        else problems.push({ line, message: `@required_level "${value}" is not a level (use ${LEVELS.join(', ')})` });
        break;
      }
      case 'category':
        header.category = value;
        break;
      case 'tags':
        header.tags = [...new Set(value.split(',').map((t) => t.trim()).filter(Boolean))];
        break;
      case 'parameters': {
        header.parametersLine = line;
        try {
          header.parameters = JSON.parse(value);
        } catch (error) {
          const { message, offset } = describeJsonError(error as Error, value);
          const at = offset === undefined ? line : line + lineOf(value, offset);
          problems.push({ line: at, message: `@parameters is not valid JSON: ${message}` });
        }
        break;
      }
      case 'execution_timeout': {
        const seconds = parsePositiveInt(value);
        if (seconds === undefined) problems.push({ line, message: `@execution_timeout "${value}" must be a whole number of seconds above 0` });
        else header.executionTimeout = seconds;
        break;
      }
      case 'interactive': {
        const flag = parseBoolean(value);
        if (flag === undefined) problems.push({ line, message: `@interactive "${value}" must be true or false` });
        else header.interactive = flag;
        break;
      }
      case 'flask_port': {
        const port = parsePositiveInt(value);
        if (port === undefined || port > 65535) problems.push({ line, message: `@flask_port "${value}" must be a port number` });
        else header.flaskPort = port;
        break;
      }
      default:
        header.extra[key] = value;
    }
  }
  return { header, problems };
}
