// PGlite's CommonJS build loads Node built-ins with `import("fs")` and the like, which jest's vm
// rejects without --experimental-vm-modules (electric-sql/pglite#224). This transform, applied
// to PGlite's files only, turns those imports of built-ins into `require`s.
const { createHash } = require('node:crypto');
const { isBuiltin } = require('node:module');

const HELPER = '__persistenceImportBuiltin';
const IMPORT = /\bimport\((["'])([\w:/.-]+)\1\)/g;

module.exports = {
  process(source) {
    let replaced = 0;
    const code = source.replace(IMPORT, (match, quote, name) => {
      if (!isBuiltin(name)) return match;
      replaced += 1;
      return `${HELPER}(${quote}${name}${quote})`;
    });
    if (replaced === 0) return { code: source };
    // Emscripten's glue declares its own `var require`; the helper keeps jest's.
    const helper = `const ${HELPER} = (name) => Promise.resolve().then(() => require(name));`;
    return { code: `${helper}${code}` };
  },
  getCacheKey(source, path) {
    return createHash('sha256')
      .update('import-builtins-v1')
      .update(path)
      .update(source)
      .digest('hex');
  },
};
