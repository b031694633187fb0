/** History survives restarts and eviction; offline writes on both sides merge after days. */
import { execFile } from 'node:child_process';
import { mkdtempSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../server/clock';
import { backend } from '../helpers/backend';
import {
	startServer,
	startConversation,
	customerChat,
	agentChat,
	waitFor,
	type TestServer,
	customerSession
} from '../helpers/server';
import type { ChatSession } from '../../src/lib/client/chat-session';

const servers: TestServer[] = [];
const sessions: ChatSession[] = [];
afterEach(async () => {
	for (const s of sessions.splice(0)) s.destroy();
	for (const s of servers.splice(0)) await s.dispose();
});

const texts = (s: ChatSession) => s.transcript.filter((t) => t.kind === 'text').map((t) => t.text);
const HOUR = 3600_000;
const DAY = 24 * HOUR;

describe('history', () => {
	it('survives a server restart, and a new device sees all of it', async () => {
		const first = await startServer();
		const { customer, customerSide, agentSide, inbox } = await startConversation(first);
		inbox.destroy();
		for (let i = 0; i < 5; i++) customerSide.send(`c${i}`);
		agentSide.send('reply');
		await waitFor(
			() => texts(customerSide).length === 7 && texts(agentSide).length === 7,
			'exchanged'
		);
		customerSide.destroy();
		agentSide.destroy();
		await first.stop();

		const second = await startServer({ dir: first.dir });
		servers.push(second);
		// "another device": a fresh session for the same authenticated... here, the same anonymous token
		const resumed = await customerSession(second.base, 'live', {
			resumeToken: customer.sessionToken
		});
		expect(resumed.conversationId).toBe(customer.conversationId);
		const device2 = customerChat(second, resumed);
		sessions.push(device2);
		expect(device2.transcriptLoaded).toBe(false); // nothing on this device yet, not synced
		await waitFor(() => texts(device2).length === 7, 'history after restart');
		expect(device2.transcriptLoaded).toBe(true);
		expect(texts(device2)).toEqual(['Hello, I need help', 'c0', 'c1', 'c2', 'c3', 'c4', 'reply']);
		expect(device2.transcript.filter((t) => t.mine).every((t) => t.state === 'sent')).toBe(true);
	});

	it('an authenticated customer sees the same history on a second device', async () => {
		const srv = await startServer();
		servers.push(srv);
		const deviceA = await customerSession(srv.base, 'persistent', {
			externalId: 'carla',
			name: 'Carla'
		});
		const deviceB = await customerSession(srv.base, 'persistent', {
			externalId: 'carla',
			name: 'Carla'
		});
		expect(deviceB.conversationId).toBe(deviceA.conversationId);
		const a = customerChat(srv, deviceA);
		sessions.push(a);
		a.send('from my laptop');
		await waitFor(() => a.transcript[0]?.state === 'sent', 'sent');
		const b = customerChat(srv, deviceB);
		sessions.push(b);
		// The shared outbox may arrive before the conversation does (shown as pending for a
		// moment); once the conversation has synced, the message is there once, as sent.
		await waitFor(() => b.transcript[0]?.state === 'sent', 'second device');
		expect(b.transcript).toHaveLength(1);
		expect(b.transcript[0]).toMatchObject({ mine: true, state: 'sent', text: 'from my laptop' });
	});

	it('reloads an evicted, compacted document exactly as it was', async () => {
		const clock = new ManualClock();
		const srv = await startServer({ clock, limits: { docIdleMs: 1000, compactAfterUpdates: 5 } });
		servers.push(srv);
		const { customer, customerSide, agentSide, inbox } = await startConversation(srv);
		inbox.destroy();
		for (let i = 0; i < 12; i++) customerSide.send(`m${i}`);
		await waitFor(() => texts(agentSide).length === 13, 'all merged');
		customerSide.destroy();
		agentSide.destroy();
		await waitFor(() => srv.parley.sync.connectionCount === 0, 'sockets closed');
		// Idle documents are evicted; one touched late by background work (a head check, a
		// debounced notice) is idle again after another period, so keep moving the clock.
		await waitFor(() => {
			clock.advance(2000);
			return srv.parley.rooms.size === 0;
		}, 'documents evicted');
		const again = customerChat(srv, customer);
		sessions.push(again);
		await waitFor(() => texts(again).length === 13, 'reloaded');
		expect(texts(again).slice(1)).toEqual(Array.from({ length: 12 }, (_, i) => `m${i}`));
	});
});

describe('offline', () => {
	it('writes on both sides while offline for days arrive in order, exactly once, across a restart', async () => {
		const clock = new ManualClock();
		const now = () => clock.now();
		const first = await startServer({ clock });
		const { customer, agent, customerSide, agentSide, inbox } = await startConversation(first);
		inbox.destroy();
		customerSide.destroy();
		agentSide.destroy();
		// Fresh sessions on the controlled clock (their write times come from it).
		const cust = customerChat(first, customer, { now });
		const ag = agentChat(first, agent, customer.conversationId, { now });
		sessions.push(cust, ag);
		// Synced means the first message is in the transcript, not only in the outbox they load
		// (on a slower store the outbox can arrive first, and it would count as pending below).
		await waitFor(
			() =>
				texts(cust).length === 1 &&
				texts(ag).length === 1 &&
				cust.pendingCount === 0 &&
				ag.pendingCount === 0,
			'synced'
		);

		cust.disconnect();
		ag.disconnect();
		const written: Record<string, number> = {};
		for (let i = 0; i < 4; i++) {
			clock.advance(5 * HOUR);
			const t = `customer offline ${i}`;
			expect(cust.send(t).ok).toBe(true);
			written[t] = clock.now();
			clock.advance(HOUR);
			const a = `agent offline ${i}`;
			expect(ag.send(a).ok).toBe(true);
			written[a] = clock.now();
		}
		expect(cust.pendingCount).toBe(4);
		expect(ag.pendingCount).toBe(4);

		// Days pass and the server restarts meanwhile.
		await first.stop();
		clock.advance(3 * DAY);
		const second = await startServer({
			clock,
			dir: first.dir,
			port: Number(new URL(first.base).port)
		});
		servers.push(second);

		cust.connect();
		ag.connect();
		await waitFor(() => cust.pendingCount === 0 && ag.pendingCount === 0, 'all delivered', 15_000);
		await waitFor(() => texts(cust).length === 9 && texts(ag).length === 9, 'both converge');
		expect(texts(cust)).toEqual(texts(ag));
		const all = texts(ag);
		expect(all.filter((t) => t.startsWith('customer offline'))).toEqual(
			[0, 1, 2, 3].map((i) => `customer offline ${i}`)
		);
		expect(all.filter((t) => t.startsWith('agent offline'))).toEqual(
			[0, 1, 2, 3].map((i) => `agent offline ${i}`)
		);
		// written times are kept, so the gap is visible
		for (const item of ag.transcript)
			if (written[item.text]) expect(item.time).toBe(written[item.text]);

		// Reconnecting again sends nothing twice.
		cust.disconnect();
		ag.disconnect();
		cust.connect();
		ag.connect();
		await waitFor(
			() => cust.connection === 'connected' && ag.connection === 'connected',
			'reconnected'
		);
		await new Promise((r) => setTimeout(r, 100));
		expect(texts(ag)).toHaveLength(9);
		expect(new Set(ag.transcript.map((t) => t.id)).size).toBe(ag.transcript.length);
	});
});

describe('loading', () => {
	it('answers the first sync only with the fully loaded document', async () => {
		const clock = new ManualClock();
		const srv = await startServer({ clock, limits: { docIdleMs: 1000, compactAfterUpdates: 50 } });
		servers.push(srv);
		const { customer, customerSide, agentSide, inbox } = await startConversation(srv);
		inbox.destroy();
		// one update, as a client that wrote offline sends its backlog
		customerSide.outbox.transact(() => {
			for (let i = 0; i < 300; i++) customerSide.send(`m${i}`);
		});
		await waitFor(() => texts(agentSide).length === 301, 'all merged', 10_000);
		customerSide.destroy();
		agentSide.destroy();
		await waitFor(() => srv.parley.sync.connectionCount === 0, 'closed');
		await waitFor(() => {
			clock.advance(2000);
			return srv.parley.rooms.size === 0;
		}, 'evicted');
		// A fresh client: the moment it reports synced, it must hold everything.
		const fresh = customerChat(srv, customer);
		sessions.push(fresh);
		const countAtFirstSync = await new Promise<number>((resolve) =>
			fresh.conversationProvider.once('sync', () => resolve(texts(fresh).length))
		);
		expect(countAtFirstSync).toBe(301);
	});
});

/** `npm run backup -- <file>` (server/tools/backup.ts) as an admin runs it, next to the server. */
function runBackup(env: Record<string, string>, ...args: string[]) {
	return new Promise<{ code: number; out: string }>((resolve) => {
		execFile(
			process.execPath,
			['--import', 'tsx', join(import.meta.dirname, '../../server/tools/backup.ts'), ...args],
			{ env: { ...process.env, ...env } },
			(err, stdout, stderr) =>
				resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr })
		);
	});
}

describe('backup', () => {
	it('copies the embedded store while the server runs; a server started on the copy has it all', async () => {
		const first = await startServer();
		servers.push(first);
		if (backend === 'postgres') {
			// No embedded store: the tool says what to use instead.
			const refused = await runBackup(
				{ DATABASE_URL: first.config.databaseUrl! },
				join(first.dir, 'b.db')
			);
			expect(refused.code).toBe(1);
			expect(refused.out).toContain('back it up with pg_dump instead');
			return;
		}
		const { customer, customerSide, agentSide, inbox } = await startConversation(first);
		sessions.push(customerSide, agentSide);
		inbox.destroy();
		for (let i = 0; i < 3; i++) customerSide.send(`c${i}`);
		agentSide.send('reply');
		await waitFor(() => texts(agentSide).length === 5, 'exchanged');

		const dir = mkdtempSync(join(tmpdir(), 'parley-backup-'));
		const target = join(dir, 'parley.db');
		const env = { PARLEY_DB: first.dbPath };
		// Written while the server keeps writing (the customer goes on).
		customerSide.send('during the backup');
		const made = await runBackup(env, target);
		expect(made.out).toMatch(/^Parley backup: .* → .*parley\.db \(\d+\.\d MB, \d+ ms\)\n$/);
		expect(made.code).toBe(0);
		// One file, nothing half-written left beside it.
		expect(readdirSync(dir)).toEqual(['parley.db']);
		// It does not overwrite a backup unless told to, nor copy the store onto itself.
		const again = await runBackup(env, target);
		expect([again.code, again.out]).toEqual([
			1,
			`Parley backup: ${target} exists; pass --force to replace it\n`
		]);
		expect((await runBackup(env, target, '--force')).code).toBe(0);
		expect((await runBackup(env, first.dbPath)).out).toContain('must be another file');
		expect((await runBackup({ PARLEY_DB: join(dir, 'none.db') }, join(dir, 'x.db'))).out).toContain(
			'there is no store at'
		);
		expect(existsSync(join(dir, 'x.db'))).toBe(false);
		customerSide.send('after the backup');
		await waitFor(() => texts(agentSide).includes('after the backup'), 'written after');

		// Restored on the same address: a server on the copy serves the history to the same customer.
		await first.stop();
		const restored = await startServer({ dir, port: Number(new URL(first.base).port) });
		servers.push(restored);
		// The devices that synced after the backup reconnect by themselves, and learn that their
		// copies hold what the server lost; the message still in the customer's outbox is merged
		// again, and shows once.
		await waitFor(() => customerSide.diverged && agentSide.diverged, 'told of the restore', 15_000);
		await waitFor(
			() => texts(customerSide).filter((t) => t === 'after the backup').length === 1,
			'merged again, shown once'
		);
		expect(new Set(customerSide.transcript.map((t) => t.id)).size).toBe(
			customerSide.transcript.length
		);
		const resumed = await customerSession(restored.base, 'live', {
			resumeToken: customer.sessionToken
		});
		expect(resumed.conversationId).toBe(customer.conversationId);
		const device = customerChat(restored, resumed);
		sessions.push(device);
		await waitFor(() => texts(device).includes('after the backup'), 'history from the backup');
		expect(texts(device).slice(0, 5)).toEqual(['Hello, I need help', 'c0', 'c1', 'c2', 'reply']);
		// A device that never held more than the server is not told anything.
		expect(device.diverged).toBe(false);
	});
});
