/**
 * `npm run backup -- <file>`: a consistent copy of the embedded store (`PARLEY_DB`), safe while
 * Parley runs. Copying the file with `cp` is not: SQLite keeps recent commits in `<db>-wal`, and
 * a copy taken mid-write can be torn. `VACUUM INTO` reads the store in one read transaction (so
 * the copy is the store as of one instant, whatever the server writes meanwhile) and writes a
 * compact, self-contained file. Written to a temporary name and renamed, so a backup that fails
 * half-way never looks finished. With `DATABASE_URL` set there is no embedded store: use
 * `pg_dump` (docs/configuration.md, "Backups").
 */
import { existsSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { loadConfigOrExit } from '../config';

function fail(message: string): never {
	console.error(`Parley backup: ${message}`);
	process.exit(1);
}

const args = process.argv.slice(2);
const force = args.includes('--force');
const targets = args.filter((a) => a !== '--force');
if (targets.length !== 1)
	fail('give the file to write, e.g. `npm run backup -- backups/parley-2026-12-03.db`');
const target = resolve(targets[0]);

const config = loadConfigOrExit();
if (config.databaseUrl)
	fail('DATABASE_URL is set, so the data is in PostgreSQL: back it up with pg_dump instead');
if (config.databasePath === ':memory:') fail('PARLEY_DB is :memory:, nothing is kept on disk');
const source = resolve(config.databasePath);
if (!existsSync(source)) fail(`there is no store at ${source} (PARLEY_DB)`);
if (target === source) fail('the backup must be another file than the store itself');
if (existsSync(target) && !force) fail(`${target} exists; pass --force to replace it`);
if (!existsSync(dirname(target))) fail(`the folder ${dirname(target)} does not exist`);

const partial = `${target}.partial-${process.pid}`;
const started = Date.now();
try {
	// Read-only: the running server's writes go on; `timeout` waits out a checkpoint's lock.
	const db = new Database(source, { readonly: true, fileMustExist: true, timeout: 10_000 });
	try {
		db.prepare('VACUUM INTO ?').run(partial);
	} finally {
		db.close();
	}
	const check = new Database(partial, { readonly: true });
	try {
		const result = check.pragma('quick_check', { simple: true });
		if (result !== 'ok') throw new Error(`the copy failed its integrity check: ${String(result)}`);
	} finally {
		check.close();
	}
	renameSync(partial, target);
} catch (e) {
	rmSync(partial, { force: true });
	fail(e instanceof Error ? e.message : String(e));
}
const mb = (statSync(target).size / 1024 / 1024).toFixed(1);
console.log(`Parley backup: ${source} → ${target} (${mb} MB, ${Date.now() - started} ms)`);
