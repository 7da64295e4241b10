import { join } from 'node:path';
import ts from 'typescript';
import { PROJECT_ROOT } from '#common/paths.js';

/** Validation of Kubernetes manifests against the official API schemas, as packaged by kubernetes-models. */

type Manifest = Record<string, any>;

/** kubernetes-models' validator for one manifest (generated from the official OpenAPI spec). */
export async function schemaErrors(m: Manifest): Promise<string | undefined> {
  if (typeof m.apiVersion !== 'string' || typeof m.kind !== 'string') return 'no apiVersion/kind';
  let mod: Record<string, new (data: unknown) => { validate(): void }>;
  try {
    mod = (await import(`kubernetes-models/${m.apiVersion}/${m.kind}`)) as typeof mod;
  } catch {
    return `no Kubernetes schema for ${m.apiVersion} ${m.kind}`;
  }
  const Model = mod[m.kind];
  if (!Model) return `no model ${m.kind} in kubernetes-models/${m.apiVersion}`;
  try {
    new Model(structuredClone(m)).validate();
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

/** One problem the strict pass found: `manifest` is its index in the list checked, or -1 where it names none. */
export interface StrictFieldError {
  manifest: number;
  message: string;
}

/**
 * Unknown fields (what `kubectl --validate=strict` rejects): type-checks every manifest as
 * an object literal of kubernetes-models' generated interface; TypeScript's excess-property
 * check then names each unknown field (and each wrong type) with its path.
 */
export function strictFieldErrors(manifests: Manifest[]): StrictFieldError[] {
  const file = join(PROJECT_ROOT, '__k8s_strict_check__.ts');
  const lines: string[] = [];
  manifests.forEach((m, i) => {
    lines.push(`import type { I${m.kind} as T${i} } from "kubernetes-models/${m.apiVersion}/${m.kind}";`);
  });
  const firstDocLine = lines.length;
  manifests.forEach((m, i) => lines.push(`export const m${i}: T${i} = ${JSON.stringify(m)};`));
  const source = lines.join('\n');
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    target: ts.ScriptTarget.ES2022,
    skipLibCheck: true,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  host.getSourceFile = (name, lang, ...rest) => (name === file ? ts.createSourceFile(name, source, lang) : getSourceFile(name, lang, ...rest));
  host.fileExists = (name) => name === file || fileExists(name);
  const program = ts.createProgram([file], options, host);
  const sf = program.getSourceFile(file)!;
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const index = d.file === sf && d.start !== undefined ? sf.getLineAndCharacterOfPosition(d.start).line - firstDocLine : -1;
    return { manifest: index >= 0 && index < manifests.length ? index : -1, message: ts.flattenDiagnosticMessageText(d.messageText, ' ') };
  });
}
