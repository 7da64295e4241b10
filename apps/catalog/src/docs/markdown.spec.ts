import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { availableLanguages, renderMarkdown, resolveDoc, sanitizeDocHtml } from './markdown.js';

/** Nothing executable may survive: no script elements, handlers, javascript:/data: URLs, SVG or frames. */
function assertInert(html: string) {
  // Only real tags matter: escaped text (&lt;script&gt;) is shown, never run.
  const tags = html.match(/<[^>]*>/g) ?? [];
  for (const tag of tags) {
    assert.doesNotMatch(tag, /^<\/?(script|svg|iframe|object|embed|style|form|input|base|meta|link|details)\b/i, tag);
    assert.doesNotMatch(tag, /\son[a-z]+\s*=/i, tag);
    assert.doesNotMatch(tag, /(href|src|action|formaction)\s*=\s*"?\s*(javascript|data|vbscript):/i, tag);
    assert.doesNotMatch(tag, /style="[^"]*url\(/i, tag);
  }
}

describe('Markdown rendering', () => {
  it('renders tables, highlighted code and math', () => {
    const html = renderMarkdown('# Title\n\n| a | b |\n|:--|--:|\n| 1 | 2 |\n\n```python\ndef f():\n    return 1\n```\n\nInline $e^{i\\pi}+1=0$ and\n\n$$\\frac{a}{b}$$\n');
    assert.match(html, /<h1>Title<\/h1>/);
    assert.match(html, /<table>[\s\S]*<th style="text-align:left">a<\/th>/);
    assert.match(html, /<code class="hljs language-python"><span class="hljs-keyword">def<\/span>/);
    assert.match(html, /<span class="katex">[\s\S]*<math xmlns="http:\/\/www.w3.org\/1998\/Math\/MathML">/);
    assert.match(html, /<mfrac><mi>a<\/mi><mi>b<\/mi><\/mfrac>/);
    assert.match(html, /style="height:[\d.]+em;vertical-align:-?[\d.]+em;?"/);
    assertInert(html);
  });

  it('makes hostile Markdown inert', () => {
    const hostile = [
      '<script>alert(1)</script>',
      '<img src=x onerror="alert(1)">',
      '<a href="javascript:alert(1)">x</a>',
      '[click](javascript:alert(1))',
      '[click](JaVaScRiPt:alert(1))',
      '[tab](java\tscript:alert(1))',
      '![img](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)',
      '![img](data:image/png;base64,iVBORw0KGgo=)',
      '[data](data:text/html,<script>alert(1)</script>)',
      '<svg onload="alert(1)"><script>alert(1)</script></svg>',
      '<iframe src="https://evil.example"></iframe>',
      '<div style="background:url(javascript:alert(1))">x</div>',
      '$\\href{javascript:alert(1)}{x}$',
      '$\\htmlData{onclick=alert(1)}{x}$',
      '```html\n<script>alert(1)</script>\n```',
      '<details open ontoggle=alert(1)>',
      '[x](vbscript:msgbox)',
      '<math><mi xlink:href="javascript:alert(1)">x</mi></math>',
    ].join('\n\n');
    const html = renderMarkdown(hostile);
    assertInert(html);
    // The code block keeps the text, escaped, for readers.
    assert.match(html, /&lt;script&gt;/);
  });

  it('sanitizes HTML that gets past the Markdown layer (defence in depth)', () => {
    const html = sanitizeDocHtml(
      '<p onclick="x()">a</p><img src="data:image/png;base64,AAAA" onerror="x()"><a href="javascript:x()">l</a><a href="https://ok.example/">ok</a>' +
        '<svg><a xlink:href="javascript:x()"><text>t</text></a></svg><span style="height:1em;background:url(x)">s</span><math><annotation-xml encoding="text/html"><img src=x onerror=x()></annotation-xml></math>',
    );
    assertInert(html);
    assert.match(html, /<a href="https:\/\/ok.example\/" rel="noopener noreferrer nofollow" target="_blank">ok<\/a>/);
    assert.match(html, /<span style="height:1em">s<\/span>/);
  });
});

describe('documentation languages', () => {
  const docs = { en: '# English', fr: '# Français', es: '   ' };

  it('lists the languages that have a long description', () => {
    assert.deepEqual(availableLanguages(docs), ['en', 'fr']);
    assert.deepEqual(availableLanguages({}), []);
  });

  it('serves the requested language, else English, else the first one', () => {
    assert.deepEqual(resolveDoc(docs, 'fr'), { language: 'fr', fallback: false, markdown: '# Français' });
    assert.deepEqual(resolveDoc(docs, 'it'), { language: 'en', fallback: true, markdown: '# English' });
    assert.deepEqual(resolveDoc(docs, 'es'), { language: 'en', fallback: true, markdown: '# English' });
    assert.deepEqual(resolveDoc({ it: 'ciao' }, 'es'), { language: 'it', fallback: true, markdown: 'ciao' });
    assert.deepEqual(resolveDoc({}, 'en'), { language: undefined, fallback: false, markdown: '' });
  });
});
