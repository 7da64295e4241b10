// tsc -p tsconfig.json (or the config given as the first argument, e.g. tsconfig.build.json), plus the @nestjs/swagger compiler plugin on the gateway's DTOs and
// controllers: the OpenAPI document is then read from the class-validator decorators and the
// TypeScript types, so each shape has one source (tsc itself cannot load transformers).
import ts from 'typescript';
import { before as swaggerPlugin } from '@nestjs/swagger/plugin';

const configPath = ts.findConfigFile('.', ts.sys.fileExists, process.argv[2] ?? 'tsconfig.json');
const host = { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => report([d]) };
const parsed = ts.getParsedCommandLineOfConfigFile(configPath, undefined, host);
// Its own build info: files a plain `tsc` emitted (without the plugin's metadata) are emitted again.
const options = { ...parsed.options, tsBuildInfoFile: `${parsed.options.tsBuildInfoFile ?? 'dist/.tsbuildinfo'}-swagger-plugin` };
const builder = ts.createIncrementalProgram({ rootNames: parsed.fileNames, options, projectReferences: parsed.projectReferences });
const program = builder.getProgram();
const gatewayOnly = (plugin) => (ctx) => {
  const visit = plugin(ctx);
  return (sf) => (sf.fileName.includes('/apps/gateway/src/') ? visit(sf) : sf);
};
const transformer = gatewayOnly(
  swaggerPlugin({ dtoFileNameSuffix: ['dto.ts'], controllerFileNameSuffix: ['.controller.ts'], classValidatorShim: true, introspectComments: true, esmCompatible: true }, program),
);
const emitted = builder.emit(undefined, undefined, undefined, false, { before: [transformer] });
const diagnostics = [...ts.getPreEmitDiagnostics(program), ...emitted.diagnostics];
report(diagnostics);
if (diagnostics.some((d) => d.category === ts.DiagnosticCategory.Error)) process.exit(2);

function report(list) {
  if (list.length === 0) return;
  process.stderr.write(ts.formatDiagnosticsWithColorAndContext(list, { getCanonicalFileName: (f) => f, getCurrentDirectory: ts.sys.getCurrentDirectory, getNewLine: () => '\n' }));
}
