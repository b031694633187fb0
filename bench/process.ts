/** Server processes for the benchmarks: started from the repository root, logs kept for errors. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { appendFileSync } from 'node:fs';

const root = join(import.meta.dirname, '..');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until `url` answers (any status), or fails with the process's logs. */
export async function waitHttp(url: string, child: ChildProcess, logs: string[]) {
	const deadline = Date.now() + 60_000;
	for (;;) {
		if (child.exitCode !== null) throw new Error(`server exited:\n${logs.join('')}`);
		try {
			await fetch(url);
			return;
		} catch {
			if (Date.now() > deadline) throw new Error(`server did not start:\n${logs.join('')}`);
			await sleep(100);
		}
	}
}

export function startProcess(cmd: string[], env: Record<string, string>) {
	const logs: string[] = [];
	const child = spawn(process.execPath, cmd, {
		cwd: root,
		env: { ...process.env, ...env },
		stdio: ['ignore', 'pipe', 'pipe']
	});
	child.stdout!.on('data', (d) => {
		if (logs.length < 200) logs.push(String(d));
		// e.g. BENCH_NODE_ARGS=--trace-gc-nvp BENCH_SERVER_STDOUT=/tmp/gc.log
		if (process.env.BENCH_SERVER_STDOUT) appendFileSync(process.env.BENCH_SERVER_STDOUT, d);
	});
	child.stderr!.on('data', (d) => {
		if (logs.length < 200) logs.push(String(d));
		if (process.env.BENCH_SHOW_SERVER_STDERR) process.stderr.write(d);
	});
	return { child, logs };
}
