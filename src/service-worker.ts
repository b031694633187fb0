/// <reference types="@sveltejs/kit" />
/// <reference no-default-lib="true"/>
/// <reference lib="esnext" />
/// <reference lib="webworker" />
/**
 * Lets the agent workspace and the customer widget open without a network (SPEC A14, C4): a
 * reload, or a new tab, while offline shows the conversations this device keeps (IndexedDB)
 * instead of the browser's offline page.
 *
 * Written by hand because what it does is small and specific: SvelteKit hands us the list of
 * built files (`$service-worker`), and only two pages are worth keeping. Workbox would add a
 * build step and a runtime for the same few lines.
 *
 * - The built app's files are served from the cache (their names carry a hash, or they change
 *   with the version). What is kept is what the page asks for: each page, once the worker runs,
 *   sends the files it loaded before the worker took over (`parley:keep`), and files it loads
 *   later are kept as they pass. The agent workspace asks for the whole app (every dialog must
 *   open offline); the customer's chat keeps only its own files, about a quarter of the app,
 *   so a widget visit does not download the workspace and the admin console.
 * - `/agent` and `/chat` are app shells (`ssr = false`): their HTML is the same for everyone and
 *   holds no data, so it is safe to keep. They come from the network first, from the cache when
 *   the network fails or takes too long.
 * - Nothing else is touched: the API, the admin console, the demo host page (it signs a token
 *   per visitor) and the websockets always go to the server.
 */
import { build, files, version } from '$service-worker';

const sw = self as unknown as ServiceWorkerGlobalScope;

const CACHE = `parley-${version}`;
const ASSETS = new Set([...build, ...files]);
/** Pages that work offline; cached under their path, whatever their query string. */
const SHELLS = ['/agent', '/chat'];
/** How long a page waits for the network before the cached copy is shown. */
const NETWORK_WAIT_MS = 4000;

sw.addEventListener('install', (event) => {
	event.waitUntil(
		(async () => {
			const cache = await caches.open(CACHE);
			// The shells, so that the very first visit already works offline next time.
			await Promise.all(
				SHELLS.map(async (path) => {
					const res = await fetch(path).catch(() => null);
					if (res?.ok) await cache.put(path, res);
				})
			);
			// A new version takes over at once: the pages always come from the network when it
			// is there, and the old version's files are dropped on activation.
			await sw.skipWaiting();
		})()
	);
});

/** A page asks to keep the files it loaded (or, `everything`, the whole app); answered when kept. */
interface KeepRequest {
	type: 'parley:keep';
	paths: string[];
	everything: boolean;
}

sw.addEventListener('message', (event) => {
	const data = event.data as KeepRequest | null;
	if (data?.type !== 'parley:keep' || !Array.isArray(data.paths)) return;
	const wanted = data.everything ? [...ASSETS] : data.paths.filter((p) => ASSETS.has(p));
	const reply = event.ports[0];
	event.waitUntil(
		keep(wanted).then(
			(missing) => reply?.postMessage({ kept: wanted.length - missing, missing }),
			() => reply?.postMessage({ kept: 0, missing: wanted.length })
		)
	);
});

/** Requests at once while keeping files: the page's own requests (its websockets) come first. */
const KEEP_CONCURRENCY = 3;

/** Caches the paths not cached yet, a few at a time; resolves with how many could not be fetched. */
async function keep(paths: string[]): Promise<number> {
	const cache = await caches.open(CACHE);
	const queue = [...paths];
	let missing = 0;
	const worker = async () => {
		for (let path = queue.shift(); path !== undefined; path = queue.shift()) {
			if (await cache.match(path)) continue;
			const res = await fetch(path).catch(() => null);
			if (res?.ok) await cache.put(path, res);
			else missing++;
		}
	};
	await Promise.all(Array.from({ length: KEEP_CONCURRENCY }, worker));
	return missing;
}

sw.addEventListener('activate', (event) => {
	event.waitUntil(
		(async () => {
			for (const key of await caches.keys()) if (key !== CACHE) await caches.delete(key);
			await sw.clients.claim();
		})()
	);
});

sw.addEventListener('fetch', (event) => {
	const { request } = event;
	if (request.method !== 'GET') return;
	const url = new URL(request.url);
	if (url.origin !== sw.location.origin) return;
	if (ASSETS.has(url.pathname)) {
		event.respondWith(asset(event, url.pathname));
		return;
	}
	if (request.mode === 'navigate' && SHELLS.includes(url.pathname))
		event.respondWith(shell(event, url.pathname));
});

/** A file of the app from the cache, else from the network, and kept for next time. */
async function asset(event: FetchEvent, path: string): Promise<Response> {
	const cache = await caches.open(CACHE);
	const hit = await cache.match(path);
	if (hit) return hit;
	const res = await fetch(event.request);
	if (res.ok && res.type === 'basic') event.waitUntil(cache.put(path, res.clone()));
	return res;
}

/** The page from the network (and kept), or the kept copy when the network fails or stalls. */
async function shell(event: FetchEvent, path: string): Promise<Response> {
	const cache = await caches.open(CACHE);
	const fromNetwork = fetch(event.request).then((res) => {
		if (res.ok && res.type === 'basic') {
			const copy = res.clone();
			event.waitUntil(cache.put(path, copy));
		}
		return res;
	});
	let timer: ReturnType<typeof setTimeout> | undefined;
	const stalled = new Promise<null>((resolve) => {
		timer = setTimeout(() => resolve(null), NETWORK_WAIT_MS);
	});
	try {
		const res = await Promise.race([fromNetwork, stalled]);
		if (res) return res;
		// The network is slow: show the kept page if there is one, else keep waiting.
		const kept = await cache.match(path);
		if (kept) {
			event.waitUntil(fromNetwork.catch(() => undefined));
			return kept;
		}
		return await fromNetwork;
	} catch (err) {
		const kept = await cache.match(path);
		if (kept) return kept;
		throw err;
	} finally {
		clearTimeout(timer);
	}
}
