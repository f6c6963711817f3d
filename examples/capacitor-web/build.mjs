// Builds the web app into dist/ (or --outdir=DIR): the TypeScript bundled by
// esbuild, one chunk per OIDC library (loaded only when chosen), and the
// static files beside it. Type checking is `npm run check`.
import * as esbuild from 'esbuild';
import { cpSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const arg = process.argv.find((a) => a.startsWith('--outdir='));
const outdir = resolve(arg ? arg.slice('--outdir='.length) : join(here, 'dist'));

rmSync(outdir, { recursive: true, force: true });
mkdirSync(outdir, { recursive: true });
await esbuild.build({
  entryPoints: [join(here, 'src', 'main.ts')],
  outdir,
  entryNames: 'app',
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  target: 'es2022',
  sourcemap: true,
  minify: true,
  legalComments: 'linked',
  logLevel: 'warning',
});
cpSync(join(here, 'static'), outdir, { recursive: true });
console.log(`built ${outdir}`);
