import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import pino from 'pino';
import {
	Awareness,
	applyAwarenessUpdate,
	encodeAwarenessUpdate,
	outdatedTimeout
} from 'y-protocols/awareness';
import { Room } from './rooms';
import { LocalFanout } from './fanout';
import { SqliteDocStore } from '../db/doc-store';
import { openSqlite } from '../db/sqlite';

const log = pino({ level: 'silent' });

async function roomOf(key: string) {
	const { raw } = await openSqlite(':memory:');
	return new Room(key, new SqliteDocStore(raw), new LocalFanout(), log);
}

describe('a room’s awareness', () => {
	it('runs no timer of its own, and drops a remote state silent for 30 s when checked', async () => {
		const room = await roomOf('conv:cv_1');
		const awareness = room.awareness!;
		const timer = (awareness as unknown as { _checkInterval: { _destroyed: boolean } })
			._checkInterval;
		expect(timer._destroyed).toBe(true);

		const client = new Awareness(new Y.Doc());
		client.setLocalState({ typing: true });
		applyAwarenessUpdate(awareness, encodeAwarenessUpdate(client, [client.clientID]), 'test');
		expect(awareness.getStates().get(client.clientID)).toEqual({ typing: true });
		const removed: number[] = [];
		awareness.on('update', ({ removed: r }: { removed: number[] }, origin: unknown) => {
			if (origin === 'timeout') removed.push(...r);
		});

		const stamped = awareness.meta.get(client.clientID)!.lastUpdated;
		room.dropOutdatedAwareness(stamped + outdatedTimeout - 1);
		expect(awareness.getStates().has(client.clientID)).toBe(true);
		room.dropOutdatedAwareness(stamped + outdatedTimeout);
		expect(awareness.getStates().has(client.clientID)).toBe(false);
		expect(removed).toEqual([client.clientID]);
		client.destroy();
		room.destroy();
	});

	it('outbox rooms have no awareness, so nothing to check', async () => {
		const outbox = await roomOf('outbox:cv_1:customer:cu_1');
		expect(outbox.awareness).toBeNull();
		expect(() => outbox.dropOutdatedAwareness(Date.now() + 60_000)).not.toThrow();
		outbox.destroy();
	});
});
