/**
 * Builds every publishable package (packages/* with a tsconfig.build.json) to its `dist/`:
 * JavaScript and `.d.ts`, tests excluded. The sources import siblings with `.ts` extensions
 * (run directly by Node.js in the monorepo); tsc rewrites them to `.js` in JavaScript but keeps
 * them in declarations, so this rewrites relative `.ts` specifiers of the `.d.ts` files too:
 * a consumer's `module: nodenext` type-check then needs no `allowImportingTsExtensions`.
 *
 *   node scripts/build-packages.ts     (also: pnpm build)
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Directories (relative to the repository) of the packages this builds. */
export async function buildablePackages(): Promise<string[]> {
  const names = await readdir(join(ROOT, 'packages'));
  return names
    .filter((name) => existsSync(join(ROOT, 'packages', name, 'tsconfig.build.json')))
    .sort()
    .map((name) => `packages/${name}`);
}

async function declarationFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await declarationFiles(path)));
    else if (entry.name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** `from './x.ts'`, `import('./x.ts')`, `export * from '../y.ts'` → `.js`. */
export function rewriteDeclarationSpecifiers(source: string): string {
  return source.replace(/((?:from|import)\s*\(?\s*)(['"])(\.{1,2}\/[^'"]*?)\.ts\2/g, '$1$2$3.js$2');
}

async function main(): Promise<void> {
  const packages = await buildablePackages();
  for (const dir of packages) {
    await rm(join(ROOT, dir, 'dist'), { recursive: true, force: true });
  }
  await rm(join(ROOT, 'node_modules/.cache/tsc-dist'), { recursive: true, force: true });
  const tsc = createRequire(join(ROOT, 'package.json')).resolve('typescript/bin/tsc');
  const result = spawnSync(process.execPath, [tsc, '-b', ...packages.map((dir) => `${dir}/tsconfig.build.json`)], { cwd: ROOT, stdio: 'inherit' });
  if (result.status !== 0) {
    process.stderr.write(`build: tsc -b failed (exit ${result.status ?? result.signal})\n`);
    process.exit(1);
  }
  let rewritten = 0;
  for (const dir of packages) {
    for (const file of await declarationFiles(join(ROOT, dir, 'dist'))) {
      const before = await readFile(file, 'utf8');
      const after = rewriteDeclarationSpecifiers(before);
      if (after !== before) {
        await writeFile(file, after);
        rewritten += 1;
      }
    }
  }
  process.stdout.write(`build: ${packages.length} packages built to dist/ (${packages.map((d) => d.slice('packages/'.length)).join(', ')}); ${rewritten} declaration files rewritten to .js specifiers\n`);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) await main();
