/**
 * fsync of SQLite's write-ahead log off the event loop.
 *
 * With `synchronous = FULL`, SQLite fsyncs the WAL inside every commit, and better-sqlite3 runs
 * commits on the main thread: the whole server stops for each fsync (0.2–0.5 ms here, with tails
 * of several ms), and every socket waits. Neither library offers an asynchronous commit, so the
 * document store commits its group of updates with `synchronous = NORMAL` (written to the WAL,
 * not yet synced) and then calls `sync()`, which fsyncs the WAL file on libuv's thread pool.
 * Only when that resolves are the updates reported durable (and broadcast): the same guarantee as
 * FULL, since an fsync of the file covers every frame written to it before the call.
 *
 * Calls are grouped: callers that arrive while an fsync is running share the next one.
 * SQLite keeps the WAL file (same inode) for as long as the database is open; a checkpoint only
 * rewrites it from the start, after syncing it and the database file itself.
 */
import { closeSync, fsync, fsyncSync, openSync } from 'node:fs';
import { dirname } from 'node:path';

export class WalSync {
	#fd: number | null = null;
	#running: Promise<void> | null = null;
	#next: Promise<void> | null = null;

	constructor(
		private readonly walPath: string,
		private readonly fsyncFile: typeof fsync = fsync
	) {}

	/** Resolves once everything written to the WAL before this call is on disk. */
	sync(): Promise<void> {
		if (!this.#running) {
			this.#running = this.#fsync().finally(() => (this.#running = null));
			return this.#running;
		}
		// The running fsync may have started before the caller's write: wait for the next one.
		this.#next ??= this.#running
			.catch(() => undefined)
			.then(() => {
				this.#next = null;
				return this.sync();
			});
		return this.#next;
	}

	#fsync(): Promise<void> {
		if (this.#fd === null) {
			this.#fd = openSync(this.walPath, 'r');
			// The log's directory entry must be durable too (SQLite would sync the directory after
			// creating the file, in a commit we now run with NORMAL).
			const dir = openSync(dirname(this.walPath), 'r');
			try {
				fsyncSync(dir); // once per process, at the first commit
			} finally {
				closeSync(dir);
			}
		}
		const fd = this.#fd;
		return new Promise((resolve, reject) =>
			this.fsyncFile(fd, (err) => (err ? reject(err) : resolve()))
		);
	}

	close() {
		if (this.#fd !== null) closeSync(this.#fd);
		this.#fd = null;
	}
}
