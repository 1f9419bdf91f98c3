// `npm start` / `npm run cli`: build only if sources changed, then run the compiled entry in this process.
const path = require('node:path');
const { ensureBuilt } = require('./ensure-built.cjs');

const ENTRIES = { server: 'dist/src/server.js', cli: 'dist/src/cli-main.js' };
const entry = ENTRIES[process.argv[2]];
if (!entry) {
  process.stderr.write(`usage: node scripts/run.cjs <${Object.keys(ENTRIES).join('|')}> [arguments]\n`);
  process.exit(2);
}
ensureBuilt();
process.argv.splice(2, 1); // the entry sees its own arguments as if it had been started directly
require(path.resolve(__dirname, '..', entry));
