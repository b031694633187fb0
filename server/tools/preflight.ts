/**
 * `npm start` runs this before it builds: if Parley is already running here (its port taken, or
 * its embedded store held by another process), say so and stop, before the build replaces the
 * files that running server is serving from (which would break it).
 */
import { createServer } from 'node:net';
import { existsSync } from 'node:fs';
import { listenProblem, loadConfigOrExit } from '../config';
import { holdStore, StoreInUseError } from '../db/sqlite';

function portProblem(port: number, host: string): Promise<string | null> {
	return new Promise((resolve) => {
		const probe = createServer();
		probe.once('error', (err: NodeJS.ErrnoException) => resolve(listenProblem(port, err)));
		probe.listen(port, host, () => probe.close(() => resolve(null)));
	});
}

const config = loadConfigOrExit();
const problems: string[] = [];
if (config.port !== 0) {
	const p = await portProblem(config.port, config.host);
	if (p) problems.push(p);
}
if (!config.databaseUrl && existsSync(config.databasePath)) {
	try {
		holdStore(config.databasePath).close();
	} catch (e) {
		problems.push(e instanceof StoreInUseError ? e.message : String(e));
	}
}
if (problems.length > 0) {
	for (const p of problems) console.error(`Parley cannot start: ${p}`);
	process.exit(1);
}
