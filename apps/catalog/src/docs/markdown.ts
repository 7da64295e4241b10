import { createHash } from 'node:crypto';
import hljs from 'highlight.js';
import MarkdownIt from 'markdown-it';
import katexModule from '@vscode/markdown-it-katex';
import sanitizeHtml from 'sanitize-html';
import { LANGUAGES, type Language } from '#contracts/levels.js';
import type { Localized } from '../discovery/localized.js';

/**
 * Long descriptions: Markdown → HTML that is safe to put in another user's page.
 *
 * Two layers, either enough on its own against script injection:
 * 1. markdown-it with `html: false`: raw HTML in the Markdown is shown as text,
 *    and its link validator refuses javascript:, vbscript:, file: and data: URLs
 *    (except a few raster image types).
 * 2. sanitize-html on the result, with an allowlist of elements and attributes
 *    (no script/style/iframe/svg/object, no on* handlers, no style except the
 *    length-only declarations KaTeX emits), and only http(s)/mailto URLs, so
 *    anything a plugin might let through is dropped too; data: URIs included.
 *
 * Code blocks are highlighted by highlight.js (class names only), math by KaTeX
 * (`$…$`, `$$…$$`; HTML + MathML output, needs KaTeX's CSS on the page).
 */

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type PluginFn = (md: any, options?: Record<string, unknown>) => void;
const katexPlugin: PluginFn = ((katexModule as unknown as { default?: PluginFn }).default ?? katexModule) as PluginFn;

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const md = new MarkdownIt({
  html: false,
  linkify: true,
  typographer: false,
  highlight(code: string, language: string) {
    const lang = language.trim().toLowerCase();
    try {
      if (lang && hljs.getLanguage(lang)) {
        return `<pre><code class="hljs language-${escapeHtml(lang)}">${hljs.highlight(code, { language: lang, ignoreIllegals: true }).value}</code></pre>`;
      }
    } catch {
      // fall through to plain text
    }
    return `<pre><code class="hljs">${escapeHtml(code)}</code></pre>`;
  },
});
md.use(katexPlugin, { throwOnError: false, trust: false, strict: 'ignore', maxSize: 50, maxExpand: 500, output: 'htmlAndMathml' });

const MATHML_TAGS = [
  'math', 'semantics', 'annotation', 'mrow', 'mi', 'mo', 'mn', 'ms', 'mtext', 'mspace', 'msup', 'msub', 'msubsup', 'mfrac', 'msqrt',
  'mroot', 'mstyle', 'mtable', 'mtr', 'mtd', 'munder', 'mover', 'munderover', 'mpadded', 'mphantom', 'menclose', 'merror', 'mlabeledtr',
];
const MATHML_ATTRIBUTES = [
  'xmlns', 'display', 'encoding', 'mathvariant', 'stretchy', 'fence', 'separator', 'lspace', 'rspace', 'accent', 'accentunder',
  'linethickness', 'columnalign', 'rowalign', 'rowspacing', 'columnspacing', 'columnlines', 'rowlines', 'frame', 'width', 'height',
  'depth', 'voffset', 'scriptlevel', 'displaystyle', 'minsize', 'maxsize', 'movablelimits', 'symmetric', 'largeop', 'notation', 'mathcolor', 'mathbackground',
];

/** KaTeX positions glyphs with inline lengths; only plain lengths (and colours) pass. */
const LENGTH = [/^-?\d*\.?\d+(em|ex|px|pt|%)?$/];
const COLOR = [/^#[0-9a-fA-F]{3,8}$/, /^[a-zA-Z]{3,20}$/, /^rgba?\(\s*[\d.,\s%]+\)$/];
const STYLE_PROPERTIES = [
  'height', 'width', 'min-width', 'max-width', 'vertical-align', 'top', 'bottom', 'left', 'right', 'margin-left', 'margin-right',
  'margin-top', 'margin-bottom', 'padding-left', 'padding-right', 'border-bottom-width', 'border-top-width', 'border-right-width', 'border-left-width',
];

export const SANITIZE_OPTIONS: sanitizeHtml.IOptions = {
  allowedTags: [
    'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'p', 'br', 'hr', 'blockquote', 'pre', 'code', 'span', 'div', 'em', 'strong', 's', 'del', 'sub', 'sup',
    'ul', 'ol', 'li', 'a', 'img', 'table', 'thead', 'tbody', 'tr', 'th', 'td', ...MATHML_TAGS,
  ],
  allowedAttributes: {
    a: ['href', 'title'],
    img: ['src', 'alt', 'title'],
    th: ['style'],
    td: ['style'],
    ol: ['start'],
    span: ['class', 'style', 'aria-hidden'],
    code: ['class'],
    p: ['class'],
    div: ['class'],
    '*': [],
    ...Object.fromEntries(MATHML_TAGS.map((t) => [t, MATHML_ATTRIBUTES])),
  },
  allowedStyles: {
    th: { 'text-align': [/^(left|right|center)$/] },
    td: { 'text-align': [/^(left|right|center)$/] },
    span: { ...Object.fromEntries(STYLE_PROPERTIES.map((p) => [p, LENGTH])), color: COLOR, 'background-color': COLOR, 'border-color': COLOR },
  },
  allowedClasses: {
    // KaTeX uses many layout classes (mord, vlist-t, sizing, …); class names cannot run code.
    span: [/^[A-Za-z][\w-]*$/],
    code: [/^(hljs|language-[\w+#-]+)$/],
    p: ['katex-block'],
    div: [/^(katex|hljs)[\w-]*$/],
  },
  allowedSchemes: ['http', 'https', 'mailto'],
  allowedSchemesByTag: { img: ['http', 'https'] },
  allowedSchemesAppliedToAttributes: ['href', 'src', 'cite'],
  allowProtocolRelative: false,
  disallowedTagsMode: 'discard',
  // Contents of these are dropped entirely, not kept as text.
  nonTextTags: ['script', 'style', 'textarea', 'option', 'noscript', 'iframe', 'object', 'embed', 'svg', 'template'],
  transformTags: {
    a: (tagName, attribs) => ({ tagName, attribs: { ...attribs, rel: 'noopener noreferrer nofollow', target: '_blank' } }),
  },
  parser: { lowerCaseTags: true, lowerCaseAttributeNames: true },
};
// rel/target are set by the transform above and must survive the allowlist.
(SANITIZE_OPTIONS.allowedAttributes as Record<string, string[]>).a.push('rel', 'target');

/** Sanitizes HTML with the documentation allowlist. */
export function sanitizeDocHtml(html: string): string {
  return sanitizeHtml(html, SANITIZE_OPTIONS);
}

const cache = new Map<string, string>();
const CACHE_LIMIT = 500;

/** Renders Markdown to sanitized HTML (memoized by content). */
export function renderMarkdown(markdown: string): string {
  if (!markdown.trim()) return '';
  const key = createHash('sha256').update(markdown).digest('base64url');
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  const html = sanitizeDocHtml(md.render(markdown));
  if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value!);
  cache.set(key, html);
  return html;
}

/** Languages (in the product's order) that have a non-blank long description. */
export function availableLanguages(docs: Localized): Language[] {
  return LANGUAGES.filter((l) => (docs[l] ?? '').trim() !== '');
}

export interface ResolvedDoc {
  language: Language | undefined;
  fallback: boolean;
  markdown: string;
}

/** The long description in `language`, else English, else the first language that has one. */
export function resolveDoc(docs: Localized, language: Language): ResolvedDoc {
  const available = availableLanguages(docs);
  const served = available.includes(language) ? language : available.includes('en') ? 'en' : available[0];
  return { language: served, fallback: served !== undefined && served !== language, markdown: served ? docs[served]! : '' };
}
