/**
 * The running server serves its own copy of the built UI, not `build/` itself.
 *
 * adapter-node's handler lists `build/client` once at start and streams files from that list,
 * and loads page modules from `build/server` lazily. `npm run build` empties and rewrites
 * `build/` (an upgrade in place, or a second `npm start` from the same checkout during a
 * rolling restart): a running server then either failed to load pages or, when a listed file
 * had gone, crashed outright (its static file server opens the file without an error handler).
 * A copy per build version keeps each server on the consistent UI it started with until it is
 * restarted. The copy lives under `node_modules/.cache` so that the build's bare imports
 * (`yjs`, …) still resolve to the project's packages.
 */
import {
	cpSync,
	existsSync,
	mkdirSync,
	readFileSync,
	readdirSync,
	renameSync,
	rmSync,
	statSync
} from 'node:fs';
import { join } from 'node:path';

/** Versions kept besides the current one (other servers on this machine may still use them). */
const KEEP = 4;

/**
 * Copies `<root>/build` to `<root>/node_modules/.cache/parley-ui/<version>` unless that copy
 * exists, and returns the copy's `handler.js`; null without a build. Several servers starting
 * together each copy to a temporary directory and rename it into place: one wins, the others
 * use its copy.
 */
export function snapshotBuild(root: string): string | null {
	const build = join(root, 'build');
	const versionFile = join(build, 'client', '_app', 'version.json');
	if (!existsSync(join(build, 'handler.js')) || !existsSync(versionFile)) return null;
	const version = (JSON.parse(readFileSync(versionFile, 'utf8')) as { version: string }).version;
	if (!/^[\w.-]+$/.test(version)) throw new Error(`unexpected build version ${version}`);
	const base = join(root, 'node_modules', '.cache', 'parley-ui');
	const target = join(base, version);
	if (!existsSync(join(target, 'handler.js'))) {
		mkdirSync(base, { recursive: true });
		const temp = join(base, `.${version}-${process.pid}`);
		rmSync(temp, { recursive: true, force: true });
		cpSync(build, temp, { recursive: true });
		try {
			renameSync(temp, target);
		} catch (err) {
			rmSync(temp, { recursive: true, force: true });
			if (!existsSync(join(target, 'handler.js'))) throw err;
		}
	}
	prune(base, version);
	return join(target, 'handler.js');
}

/** Removes all but the newest `KEEP` other versions (by when they were copied). */
function prune(base: string, current: string) {
	const others = readdirSync(base)
		.filter((name) => name !== current && !name.startsWith('.'))
		.map((name) => ({ name, at: statSync(join(base, name)).mtimeMs }))
		.sort((a, b) => b.at - a.at);
	for (const old of others.slice(KEEP))
		rmSync(join(base, old.name), { recursive: true, force: true });
}
