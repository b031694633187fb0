/** Runs the real `server/main.ts` (UI + sync, one port) as a child process, as `npm start` does. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';

const root = join(import.meta.dirname, '..', '..');

export async function freePort(): Promise<number> {
	return new Promise((resolve, reject) => {
		const s = createServer();
		s.listen(0, '127.0.0.1', () => {
			const port = (s.address() as { port: number }).port;
			s.close(() => resolve(port));
		});
		s.on('error', reject);
	});
}

export interface ServerProcess {
	base: string;
	port: number;
	dir: string;
	child: ChildProcess;
	logs: string[];
	/** SIGTERM and wait for exit. */
	stop(signal?: NodeJS.Signals): Promise<number | null>;
	/** Starts a new process on the same port and data directory. */
	restart(): Promise<ServerProcess>;
	/** Moves the process's clock forward (needs `testClock`). */
	advanceClock(ms: number): Promise<void>;
	dispose(): Promise<void>;
}

export interface ServerProcessOptions {
	dir?: string;
	port?: number;
	/** Extra environment, e.g. DATABASE_URL and REDIS_URL for an instance of a deployment. */
	env?: Record<string, string>;
	/** A clock the test moves over IPC (`PARLEY_TEST_CLOCK=ipc`). */
	testClock?: boolean;
}

/** Spawns `server/main.ts` on a store in `dir`, collecting its output in `logs`. */
function spawnServer(dir: string, env: Record<string, string>, ipc = false) {
	const logs: string[] = [];
	const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'server', 'main.ts')], {
		cwd: root,
		env: { ...process.env, HOST: '127.0.0.1', PARLEY_DB: join(dir, 'parley.db'), ...env },
		stdio: ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe']
	});
	child.stdout!.on('data', (d) => logs.push(String(d)));
	child.stderr!.on('data', (d) => logs.push(String(d)));
	return { child, logs };
}

export async function startServerProcess(opts: ServerProcessOptions = {}): Promise<ServerProcess> {
	if (!existsSync(join(root, 'build', 'handler.js')))
		throw new Error('run `npm run build` first: build/handler.js is missing');
	const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'parley-e2e-'));
	const port = opts.port ?? (await freePort());
	const { child, logs } = spawnServer(
		dir,
		{
			PORT: String(port),
			LOG_LEVEL: 'info',
			...(opts.testClock ? { PARLEY_TEST_CLOCK: 'ipc' } : {}),
			...opts.env
		},
		opts.testClock
	);
	const exited = new Promise<number | null>((resolve) =>
		child.once('exit', (code) => resolve(code))
	);
	const base = `http://127.0.0.1:${port}`;
	const deadline = Date.now() + 30_000;
	for (;;) {
		if (child.exitCode !== null) throw new Error(`server exited early:\n${logs.join('')}`);
		try {
			if ((await fetch(base + '/healthz')).ok) break;
		} catch {
			/* not up yet */
		}
		if (Date.now() > deadline) throw new Error(`server did not start:\n${logs.join('')}`);
		await new Promise((r) => setTimeout(r, 100));
	}
	const proc: ServerProcess = {
		base,
		port,
		dir,
		child,
		logs,
		async stop(signal = 'SIGTERM') {
			if (child.exitCode === null && child.signalCode === null) child.kill(signal);
			return exited;
		},
		restart: () => startServerProcess({ ...opts, dir, port }),
		advanceClock(ms) {
			return new Promise((resolve, reject) => {
				if (!child.send) return reject(new Error('started without testClock'));
				child.once('message', () => resolve());
				child.send({ type: 'advance', ms });
			});
		},
		async dispose() {
			await proc.stop('SIGKILL');
			rmSync(dir, { recursive: true, force: true });
		}
	};
	return proc;
}

/**
 * Runs `server/main.ts` with `env` until it exits by itself (e.g. a start that must fail);
 * killed after `timeoutMs`. Resolves with its exit code and output.
 */
export function runServerUntilExit(
	env: Record<string, string>,
	timeoutMs = 30_000
): Promise<{ code: number | null; output: string }> {
	const dir = mkdtempSync(join(tmpdir(), 'parley-exit-'));
	const { child, logs } = spawnServer(dir, env);
	const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
	return new Promise((resolve) =>
		child.once('exit', (code) => {
			clearTimeout(timer);
			rmSync(dir, { recursive: true, force: true });
			resolve({ code, output: logs.join('') });
		})
	);
}
