// `npm run dev`: the compiler in watch mode, and the server restarted whenever dist/ or views/ change.
const { spawn } = require('node:child_process');
const path = require('node:path');
const { ensureBuilt } = require('./ensure-built.cjs');

const ROOT = path.resolve(__dirname, '..');
ensureBuilt();
const tsc = require.resolve('typescript/bin/tsc', { paths: [ROOT] });
const children = [
  spawn(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--watch', '--preserveWatchOutput'], { cwd: ROOT, stdio: 'inherit' }),
  spawn(process.execPath, ['--watch-path=dist', '--watch-path=views', 'dist/src/server.js'], { cwd: ROOT, stdio: 'inherit' }),
];
const stop = (signal) => children.forEach((child) => child.kill(signal));
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGTERM', () => stop('SIGTERM'));
for (const child of children) child.on('exit', (code) => { stop('SIGTERM'); process.exitCode = code ?? 0; });
