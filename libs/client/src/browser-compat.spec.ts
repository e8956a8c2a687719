/**
 * The client runs in browsers. Compiled as the build compiles it, its files may only require each
 * other and socket.io-client: the domain is imported for its types only, which compilation
 * erases, and no Node built-in or Node global is used.
 */
import { transformSync } from '@swc/core';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const SRC = __dirname;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return /\.ts$/.test(entry.name) && !/\.(e2e-)?spec\.ts$/.test(entry.name) ? [path] : [];
  });
}

function compiled(file: string): string {
  return transformSync(readFileSync(file, 'utf8'), {
    filename: file,
    jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
    module: { type: 'commonjs' },
  }).code;
}

describe('the client in a browser', () => {
  const files = sourceFiles(SRC);

  it('has source files to check', () => {
    expect(files.map((f) => relative(SRC, f))).toEqual(
      expect.arrayContaining(['index.ts', 'lib/visitor-client.ts', 'lib/operator-client.ts']),
    );
  });

  it.each(files.map((f) => [relative(SRC, f), f]))(
    '%s requires only its siblings and socket.io-client',
    (_name, file) => {
      const code = compiled(file);
      const required = [...code.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]);
      const outside = required.filter((r) => !r?.startsWith('.') && r !== 'socket.io-client');
      expect(outside).toEqual([]);
      expect(code).not.toMatch(/\b(process|Buffer|__dirname|__filename|setImmediate)\b/);
    },
  );
});
