/**
 * `npm start` entry: the SvelteKit UI (adapter-node build) and the sync server in one process
 * on one port. SIGTERM/SIGINT stop accepting, flush every document, and exit.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';
import pino from 'pino';
import { listenProblem, loadConfigOrExit } from './config';
import { createParley, type UiHandler } from './app';
import { OffsetClock } from './clock';
import { startDemoHost, type DemoHost } from './demo-host';
import { StoreInUseError } from './db/sqlite';
import { snapshotBuild } from './ui-snapshot';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const config = loadConfigOrExit();
const log = pino({ level: config.logLevel });

// A copy of the build per version: rebuilding under a running server does not break it.
let handlerPath: string | null;
try {
	handlerPath = snapshotBuild(root);
} catch (err) {
	// A read-only install, say: serve build/ itself (a rebuild then needs a restart).
	log.warn({ err }, 'could not copy the built UI; serving build/ directly');
	const built = join(root, 'build', 'handler.js');
	handlerPath = existsSync(built) ? built : null;
}
let ui: UiHandler | undefined;
if (handlerPath) ui = (await import(pathToFileURL(handlerPath).href)).handler as UiHandler;
else
	log.warn(
		'build/handler.js is missing: run `npm run build` for the UI; serving the API and sync only'
	);

// Tests of server processes move time forward over IPC (never enabled otherwise).
let clock: OffsetClock | undefined;
if (process.env.PARLEY_TEST_CLOCK === 'ipc' && process.send) {
	const c = (clock = new OffsetClock());
	process.on('message', (m: { type?: string; ms?: number }) => {
		if (m?.type === 'advance' && typeof m.ms === 'number') {
			c.advance(m.ms);
			process.send!({ type: 'advanced', now: c.now() });
		}
	});
}

let parley: Awaited<ReturnType<typeof createParley>>;
try {
	parley = await createParley({ config, log, ui, clock });
} catch (err) {
	log.fatal({ err }, err instanceof StoreInUseError ? err.message : 'could not start');
	process.exit(1);
}
let port: number;
try {
	port = await parley.listen();
} catch (err) {
	log.fatal({ err, port: config.port }, listenProblem(config.port, err as NodeJS.ErrnoException));
	await parley.close().catch(() => undefined);
	process.exit(1);
}
log.info(
	{ port, db: config.databaseUrl ? 'postgres' : config.databasePath, redis: !!config.redisUrl },
	`Parley is running on http://localhost:${port} — open /demo and /agent`
);

// The demo host site, on another origin (port), embeds the widget as a customer's site would.
// Unset port: the next one, but not for an instance of a deployment (DATABASE_URL), whose
// siblings may well use the next port (`npm run cluster`).
let demoHost: DemoHost | undefined;
const demoHostPort = config.demoHostPort ?? (config.databaseUrl ? 0 : port + 1);
if (config.seedDemo && demoHostPort > 0) {
	try {
		demoHost = await startDemoHost({
			port: demoHostPort,
			host: config.host,
			parleyUrl: config.publicUrl ?? `http://localhost:${port}`,
			secret: config.demoWidgetSecret,
			log
		});
		log.info(
			{ port: demoHost.port },
			`Demo host site (another origin): http://localhost:${demoHost.port}`
		);
	} catch (err) {
		log.warn(
			{ err, port: demoHostPort },
			'the demo host site could not start (set PARLEY_DEMO_HOST_PORT, or 0 to turn it off); Parley carries on'
		);
	}
}

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const)
	process.on(signal, () => {
		if (stopping) return;
		stopping = true;
		log.info({ signal }, 'shutting down');
		Promise.all([parley.close(), demoHost?.close()])
			.then(() => {
				log.info('stopped cleanly');
				process.exit(0);
			})
			.catch((err) => {
				log.fatal({ err }, 'shutdown failed');
				process.exit(1);
			});
	});
