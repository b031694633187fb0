import {
	mkdirSync,
	mkdtempSync,
	readFileSync,
	readdirSync,
	rmSync,
	utimesSync,
	writeFileSync
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { snapshotBuild } from './ui-snapshot';

const roots: string[] = [];
afterEach(() => {
	for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});

/** A project root with a minimal build of `version`. */
function fakeBuild(root: string, version: string) {
	rmSync(join(root, 'build'), { recursive: true, force: true });
	mkdirSync(join(root, 'build', 'client', '_app', 'immutable'), { recursive: true });
	writeFileSync(join(root, 'build', 'handler.js'), `export const v = '${version}';`);
	writeFileSync(join(root, 'build', 'client', '_app', 'version.json'), JSON.stringify({ version }));
	writeFileSync(join(root, 'build', 'client', '_app', 'immutable', `app.${version}.js`), version);
}

describe('snapshotBuild', () => {
	it('serves a copy that outlives a rebuild of build/, one per version', () => {
		const root = mkdtempSync(join(tmpdir(), 'parley-ui-'));
		roots.push(root);
		expect(snapshotBuild(root)).toBeNull();

		fakeBuild(root, '100');
		const first = snapshotBuild(root)!;
		expect(first).toBe(join(root, 'node_modules', '.cache', 'parley-ui', '100', 'handler.js'));
		// The rebuild empties build/ and writes another version: the first copy is untouched.
		rmSync(join(root, 'build'), { recursive: true });
		expect(
			readFileSync(join(first, '..', 'client', '_app', 'immutable', 'app.100.js'), 'utf8')
		).toBe('100');
		fakeBuild(root, '200');
		const second = snapshotBuild(root)!;
		expect(second).toContain(join('parley-ui', '200', 'handler.js'));
		expect(readFileSync(second, 'utf8')).toContain("'200'");
		expect(readFileSync(first, 'utf8')).toContain("'100'");
		// The same version again reuses its copy.
		expect(snapshotBuild(root)).toBe(second);
	});

	it('keeps the current version and the four newest others', () => {
		const root = mkdtempSync(join(tmpdir(), 'parley-ui-'));
		roots.push(root);
		const base = join(root, 'node_modules', '.cache', 'parley-ui');
		for (let v = 1; v <= 6; v++) {
			fakeBuild(root, String(v));
			snapshotBuild(root);
			// Copies made in one millisecond would tie: date each one explicitly.
			const at = new Date(Date.now() - (10 - v) * 60_000);
			utimesSync(join(base, String(v)), at, at);
		}
		fakeBuild(root, '7');
		snapshotBuild(root);
		expect(readdirSync(base).sort()).toEqual(['3', '4', '5', '6', '7']);
	});
});
