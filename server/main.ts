/**
 * `npm start` entry: the SvelteKit UI (adapter-node build) and the sync server in one process
 * on one port. SIGTERM/SIGINT stop accepting, flush every document, and exit.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';
import pino from 'pino';
import { loadConfig } from './config';
import { createParley, type UiHandler } from './app';
import { OffsetClock } from './clock';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const config = loadConfig();
const log = pino({ level: config.logLevel });

const handlerPath = join(root, 'build', 'handler.js');
let ui: UiHandler | undefined;
if (existsSync(handlerPath))
	ui = (await import(pathToFileURL(handlerPath).href)).handler as UiHandler;
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

const parley = await createParley({ config, log, ui, clock });
const port = await parley.listen();
log.info(
	{ port, db: config.databaseUrl ? 'postgres' : config.databasePath, redis: !!config.redisUrl },
	`Parley is running on http://localhost:${port} — open /demo and /agent`
);

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const)
	process.on(signal, () => {
		if (stopping) return;
		stopping = true;
		log.info({ signal }, 'shutting down');
		parley
			.close()
			.then(() => {
				log.info('stopped cleanly');
				process.exit(0);
			})
			.catch((err) => {
				log.fatal({ err }, 'shutdown failed');
				process.exit(1);
			});
	});
