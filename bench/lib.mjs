// Helpers for the benchmark: child processes, readiness, load runs, memory. Loopback only.
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import autocannon from 'autocannon';

export const ROOT = new URL('..', import.meta.url).pathname;

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Polls url until it answers 200; resolves with the milliseconds it took. */
export async function waitFor200(url, { timeoutMs = 120_000, child } = {}) {
  const started = performance.now();
  while (performance.now() - started < timeoutMs) {
    if (child && child.exitCode !== null) throw new Error(`${url}: the process exited with ${child.exitCode}`);
    try {
      const res = await fetch(url);
      if (res.status === 200) return performance.now() - started;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms`);
}

/** Starts a node script as a child process; its output goes to a buffer shown if it fails. */
export function startNode(script, { env = {}, args = [] } = {}) {
  const child = spawn(process.execPath, [...args, script], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk) => { output = (output + chunk).slice(-20_000); };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  return {
    child,
    output: () => output,
    /** First line of stdout that parses as JSON with the given key. */
    message(key) {
      return new Promise((resolve, reject) => {
        let buffer = '';
        const onData = (chunk) => {
          buffer += chunk;
          for (const line of buffer.split('\n')) {
            try {
              const parsed = JSON.parse(line);
              if (parsed && key in parsed) { child.stdout.off('data', onData); resolve(parsed); return; }
            } catch { /* a log line */ }
          }
        };
        child.stdout.on('data', onData);
        child.once('exit', (code) => reject(new Error(`${script} exited with ${code}:\n${output}`)));
      });
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** One autocannon run, stopped after maxSeconds if still going; counts only the given statuses as successes. */
export async function load(opts, okStatuses = [200], maxSeconds = 600) {
  const result = await new Promise((resolve, reject) => {
    const instance = autocannon({ timeout: 30, ...opts }, (err, res) => {
      clearTimeout(timer);
      if (err) reject(err); else resolve(res);
    });
    const timer = setTimeout(() => instance.stop(), maxSeconds * 1000);
  });
  const codes = result.statusCodeStats ?? {};
  const ok = okStatuses.reduce((sum, code) => sum + (codes[code]?.count ?? 0), 0);
  const total = Object.values(codes).reduce((sum, c) => sum + c.count, 0);
  return {
    requestsPerSecond: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    ok,
    failed: total - ok + result.errors + result.timeouts,
    statusCodes: Object.fromEntries(Object.entries(codes).map(([code, c]) => [code, c.count])),
    durationS: result.duration,
  };
}

function kbFrom(file, field) {
  try {
    const line = readFileSync(file, 'utf8').split('\n').find((l) => l.startsWith(`${field}:`));
    return line ? Number(line.split(/\s+/)[1]) : 0;
  } catch {
    return 0; // the process is gone
  }
}

/** Resident memory of one process, in MB. */
export function rssMb(pid) {
  return kbFrom(`/proc/${pid}/status`, 'VmRSS') / 1024;
}

/**
 * Memory of every descendant of pid (an embedded Postgres's processes), in MB. Proportional set
 * size, so the shared buffers all backends map are counted once, not once per process.
 */
export function descendantsPssMb(pid) {
  const parents = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch { /* exited meanwhile */ }
  }
  const descendants = [];
  const walk = (p) => { for (const [child, parent] of parents) if (parent === p) { descendants.push(child); walk(child); } };
  walk(pid);
  return { count: descendants.length, mb: descendants.reduce((sum, d) => sum + kbFrom(`/proc/${d}/smaps_rollup`, 'Pss'), 0) / 1024 };
}
