import { afterEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { holdStore, openSqlite, StoreInUseError } from './sqlite';

const dirs: string[] = [];
afterEach(() => {
	for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function storePath() {
	const dir = mkdtempSync(join(tmpdir(), 'parley-lock-'));
	dirs.push(dir);
	return join(dir, 'parley.db');
}

describe('one process per embedded store', () => {
	it('a second opening of the store is refused while the first is open, and allowed after', async () => {
		const path = storePath();
		const first = await openSqlite(path);
		await expect(openSqlite(path)).rejects.toBeInstanceOf(StoreInUseError);
		await expect(openSqlite(path)).rejects.toThrow(
			`the embedded store ${path} is in use by another Parley process`
		);
		// The refused opening did not disturb the first.
		first.raw.exec('create table t (x integer); insert into t values (1)');
		await first.db.destroy();
		const second = await openSqlite(path);
		expect(second.raw.prepare('select x from t').get()).toEqual({ x: 1 });
		await second.db.destroy();
	});

	it('another process cannot claim it either; the store itself stays readable', async () => {
		const path = storePath();
		const first = await openSqlite(path);
		first.raw.exec('create table t (x integer); insert into t values (7)');
		const other = spawnSync(
			process.execPath,
			[
				'-e',
				`const D = require('better-sqlite3');
				 const lock = new D(process.argv[1] + '.lock', { timeout: 0 });
				 lock.pragma('locking_mode = EXCLUSIVE');
				 let claimed = true;
				 try { lock.exec('begin exclusive; commit'); } catch (e) { claimed = e.code; }
				 const reader = new D(process.argv[1], { readonly: true });
				 console.log(JSON.stringify({ claimed, rows: reader.prepare('select x from t').all() }));`,
				path
			],
			{ encoding: 'utf8', cwd: process.cwd() }
		);
		expect(other.stderr).toBe('');
		expect(JSON.parse(other.stdout)).toEqual({ claimed: 'SQLITE_BUSY', rows: [{ x: 7 }] });
		await first.db.destroy();
	});

	it('holdStore claims and releases', () => {
		const path = storePath();
		const lock = holdStore(path);
		expect(() => holdStore(path)).toThrow(StoreInUseError);
		lock.close();
		holdStore(path).close();
	});
});
