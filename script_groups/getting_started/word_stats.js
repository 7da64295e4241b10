#!/usr/bin/env node
// ScriptsManager Metadata:
// @description: Counts the words, lines and most frequent words of a text
// @description_es: Cuenta las palabras, líneas y palabras más frecuentes de un texto
// @description_it: Conta parole, righe e parole più frequenti di un testo
// @description_fr: Compte les mots, les lignes et les mots les plus fréquents d'un texte
// @required_level: operator
// @category: examples
// @tags: demo,javascript,text
// @parameters: [
//   {"name": "text", "type": "text", "required": true,
//    "description": {"en": "The text to analyse", "es": "El texto a analizar", "it": "Il testo da analizzare", "fr": "Le texte à analyser"}},
//   {"name": "top", "type": "integer", "min": 1, "max": 20, "default": 5,
//    "description": {"en": "How many frequent words", "es": "Cuántas palabras frecuentes", "it": "Quante parole frequenti", "fr": "Combien de mots fréquents"}}
// ]
// @execution_timeout: 30
'use strict';

/** Reads "--name value" pairs; unknown arguments are ignored. */
function parseArgs(argv) {
  const args = {};
  for (let i = 0; i < argv.length; i++) {
    if (!argv[i].startsWith('--')) continue;
    const key = argv[i].slice(2);
    const next = argv[i + 1];
    if (next !== undefined && !next.startsWith('--')) {
      args[key] = next;
      i++;
    } else args[key] = 'true';
  }
  return args;
}

const args = parseArgs(process.argv.slice(2));
const text = args.text ?? '';
const top = Math.min(20, Math.max(1, Number.parseInt(args.top ?? '5', 10) || 5));
const words = text.toLowerCase().match(/[\p{L}\p{N}']+/gu) ?? [];
const counts = new Map();
for (const word of words) counts.set(word, (counts.get(word) ?? 0) + 1);
const frequent = [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, top);
console.log(`words: ${words.length}`);
console.log(`lines: ${text ? text.split(/\r?\n/).length : 0}`);
for (const [word, count] of frequent) console.log(`${count}\t${word}`);
console.log(`::result ${JSON.stringify({ words: words.length, distinct: counts.size, top: Object.fromEntries(frequent) })}`);
