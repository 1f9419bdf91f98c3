// Compiles src/ and migrations/ into dist/ only when a source changed since the last build, so that
// `npm start` and `npm run cli` start in about a second instead of waiting for the TypeScript compiler.
// `npm install` runs it once (the "prepare" script); `npm run build` (--force) always compiles.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const SOURCES = ['src', 'migrations', 'tsconfig.json', 'tsconfig.build.json', 'package-lock.json'];
const STAMP = path.join(ROOT, 'dist', '.build-stamp');

function newestChange(target) {
  let stat;
  try {
    stat = fs.statSync(target);
  } catch {
    return 0;
  }
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs; // a deleted or renamed file changes its folder's mtime
  for (const entry of fs.readdirSync(target)) newest = Math.max(newest, newestChange(path.join(target, entry)));
  return newest;
}

function isStale() {
  let built;
  try {
    built = fs.statSync(STAMP).mtimeMs;
  } catch {
    return true;
  }
  return SOURCES.some((source) => newestChange(path.join(ROOT, source)) > built);
}

function ensureBuilt({ force = false } = {}) {
  if (!force && !isStale()) return;
  if (!force) process.stderr.write('Building Kettle (sources changed since the last build)…\n');
  const startedAt = new Date();
  let tsc;
  try {
    tsc = require.resolve('typescript/bin/tsc', { paths: [ROOT] });
  } catch {
    // An install without dev dependencies (npm ci --omit=dev) runs what was built before it.
    if (fs.existsSync(path.join(ROOT, 'dist', 'src', 'server.js'))) {
      if (!force) process.stderr.write('TypeScript is not installed (dev dependencies omitted): running the existing build in dist/.\n');
      return;
    }
    process.stderr.write('Kettle is not built and TypeScript is not installed: build it where dev dependencies are installed (npm install, then npm run build).\n');
    // As npm install's prepare step this only warns: the install itself is fine.
    if (process.env.npm_lifecycle_event !== 'prepare') process.exit(1);
    return;
  }
  const result = spawnSync(process.execPath, [tsc, '-p', path.join(ROOT, 'tsconfig.build.json')], { stdio: 'inherit', cwd: ROOT });
  if (result.status !== 0) process.exit(result.status ?? 1);
  // Stamped with the time the build began: an edit made while it compiled triggers the next build.
  fs.mkdirSync(path.dirname(STAMP), { recursive: true });
  fs.writeFileSync(STAMP, '');
  fs.utimesSync(STAMP, startedAt, startedAt);
}

module.exports = { ensureBuilt };

if (require.main === module) ensureBuilt({ force: process.argv.includes('--force') });
