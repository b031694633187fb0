/** Browser-local copies of documents (IndexedDB via y-indexeddb), and wiping them on sign-out. */
import { IndexeddbPersistence } from 'y-indexeddb';
import type * as Y from 'yjs';
import type { LocalPersistence } from './chat-session';

export function indexeddb(name: string, doc: Y.Doc): LocalPersistence {
	return new IndexeddbPersistence(name, doc);
}

/** Deletes every local database of one principal (`parley/<principal>/...`). */
export async function clearLocalData(principal: string) {
	const prefix = `parley/${principal}/`;
	const dbs = (await indexedDB.databases?.()) ?? [];
	await Promise.all(
		dbs
			.filter((d) => d.name?.startsWith(prefix))
			.map(
				(d) =>
					new Promise<void>((resolve) => {
						const req = indexedDB.deleteDatabase(d.name!);
						req.onsuccess = req.onerror = req.onblocked = () => resolve();
					})
			)
	);
}

export const syncUrl = () =>
	`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/sync`;

/** Disconnects while the browser says it is offline, so the UI shows it at once. */
export function followNetwork(onOnline: () => void, onOffline: () => void): () => void {
	window.addEventListener('online', onOnline);
	window.addEventListener('offline', onOffline);
	return () => {
		window.removeEventListener('online', onOnline);
		window.removeEventListener('offline', onOffline);
	};
}
