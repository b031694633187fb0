// Checkpoints the SQLite WAL on its own thread and connection, so the commits on the event
// loop only append to the WAL and never pay for copying pages into the database file.
// PASSIVE checkpoints never block writers. Plain JavaScript so it runs under tsx, vitest and node.
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

const db = new Database(workerData.path);
db.pragma('busy_timeout = 5000');
const timer = setInterval(() => {
	try {
		db.pragma('wal_checkpoint(PASSIVE)');
	} catch {
		// busy or closing: the next tick tries again
	}
}, workerData.intervalMs);

parentPort.on('message', (msg) => {
	if (msg === 'close') {
		clearInterval(timer);
		db.close();
		parentPort.postMessage('closed');
	}
});
