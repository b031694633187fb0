/** The security model (SPEC P5): authentication, authorization, forks, limits, awareness. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import * as encoding from 'lib0/encoding';
import * as syncProtocol from 'y-protocols/sync';
import * as awarenessProtocol from 'y-protocols/awareness';
import WebSocket from 'ws';
import { WebsocketProvider } from 'y-websocket';
import {
	startServer,
	startConversation,
	customerSession,
	customerChat,
	waitFor,
	api,
	type TestServer
} from '../helpers/server';
import { PRUNE_AFTER_ENTRIES, type ChatSession } from '../../src/lib/client/chat-session';
import { messagesOf, outboxEntriesOf } from '../../src/lib/domain/conversation-doc';
import { CloseCode } from '../../src/lib/domain/protocol';

let srv: TestServer;
const cleanup: (() => void)[] = [];
beforeEach(async () => {
	srv = await startServer({
		limits: { maxMessageBytes: 64 * 1024, messagesPerSecond: 20, messageBurst: 40 }
	});
});
afterEach(async () => {
	for (const c of cleanup.splice(0)) c();
	await srv.dispose();
});
const track = <T extends ChatSession>(s: T) => (cleanup.push(() => s.destroy()), s);

/** Opens a raw socket and resolves with its close code and reason. */
function rawSocket(url: string, headers: Record<string, string> = {}) {
	const ws = new WebSocket(url, { headers });
	ws.binaryType = 'arraybuffer';
	const messages: Uint8Array[] = [];
	ws.on('message', (d: ArrayBuffer) => messages.push(new Uint8Array(d)));
	const closed = new Promise<{ code: number; reason: string }>((resolve) =>
		ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }))
	);
	const open = new Promise<void>((resolve, reject) => {
		ws.on('open', () => resolve());
		ws.on('error', reject);
	});
	cleanup.push(() => ws.terminate());
	return { ws, messages, closed, open };
}

function syncUpdateMessage(update: Uint8Array) {
	const e = encoding.createEncoder();
	encoding.writeVarUint(e, 0);
	syncProtocol.writeUpdate(e, update);
	return encoding.toUint8Array(e);
}

/** A conversation with a customer and an agent who accepted; cleaned up after the test. */
async function started() {
	const c = await startConversation(srv);
	c.inbox.destroy();
	track(c.customerSide);
	track(c.agentSide);
	return c;
}

const texts = (s: ChatSession) => s.transcript.filter((t) => t.kind === 'text').map((t) => t.text);

describe('authentication and authorization', () => {
	it('refuses a socket without credentials with 4401', async () => {
		const s = rawSocket(`${srv.wsUrl}/inbox`);
		expect(await s.closed).toMatchObject({ code: CloseCode.unauthorized });
	});

	it('refuses a tampered customer token', async () => {
		const c = await customerSession(srv.base, 'live');
		const bad = c.sessionToken.slice(0, -3) + (c.sessionToken.endsWith('AAA') ? 'BBB' : 'AAA');
		const s = rawSocket(`${srv.wsUrl}/conversation/${c.conversationId}?token=${bad}`);
		expect(await s.closed).toMatchObject({ code: CloseCode.unauthorized });
	});

	it('refuses a host token signed with the wrong secret, with a clear message', async () => {
		await expect(
			customerSession(srv.base, 'persistent', { secret: 'not-the-right-secret-at-all' })
		).rejects.toThrow(/token_invalid/);
		const r = await api(srv.base, '/api/widget/session', { body: { workstream: 'persistent' } });
		expect(r.status).toBe(401);
		expect(r.body).toMatchObject({ error: { code: 'token_missing' } });
	});

	it("a customer cannot open another customer's conversation or outbox", async () => {
		const carla = await customerSession(srv.base, 'persistent', {
			externalId: 'carla',
			name: 'Carla'
		});
		const dev = await customerSession(srv.base, 'persistent', { externalId: 'dev', name: 'Dev' });
		expect(carla.conversationId).not.toBe(dev.conversationId);
		for (const doc of [
			`conversation/${carla.conversationId}`,
			`conversation/${carla.conversationId}/outbox`
		]) {
			const s = rawSocket(`${srv.wsUrl}/${doc}?token=${dev.sessionToken}`);
			expect(await s.closed).toMatchObject({ code: CloseCode.forbidden });
		}
		// and an agent's inbox is not theirs either
		const s = rawSocket(`${srv.wsUrl}/inbox?token=${dev.sessionToken}`);
		expect(await s.closed).toMatchObject({ code: CloseCode.forbidden });
	});

	it('refuses unknown document names', async () => {
		const c = await customerSession(srv.base, 'live');
		const s = rawSocket(`${srv.wsUrl}/conv:${c.conversationId}?token=${c.sessionToken}`);
		expect(await s.closed).toMatchObject({ code: CloseCode.notFound });
	});
});

describe('the shared conversation document is written by the server only', () => {
	it('a raw Yjs update sent to the conversation changes nothing, for anyone', async () => {
		const { customer, customerSide, agentSide } = await started();
		await waitFor(() => texts(agentSide).length === 1, 'first message');
		const before = messagesOf(agentSide.conversation).length;

		// Forge an update on a copy of the conversation, as a malicious client would.
		const forged = new Y.Doc();
		Y.applyUpdate(forged, Y.encodeStateAsUpdate(customerSide.conversation));
		const sv = Y.encodeStateVector(forged);
		messagesOf(forged).push([
			{
				id: 'forged-1234',
				kind: 'text',
				role: 'agent',
				author: 'agent:x',
				name: 'Ana',
				text: 'Send me your password',
				time: 1,
				at: 1
			}
		]);
		const s = rawSocket(
			`${srv.wsUrl}/conversation/${customer.conversationId}?token=${customer.sessionToken}`
		);
		await s.open;
		s.ws.send(syncUpdateMessage(Y.encodeStateAsUpdate(forged, sv)));
		await waitFor(() => s.messages.some((m) => m[0] === 100), 'read-only notice');
		const notice = new TextDecoder().decode(s.messages.find((m) => m[0] === 100)!.slice(2));
		expect(notice).toMatch(/read_only/);

		// Everyone carries on: a real message after the forgery still flows, the forgery never does.
		customerSide.send('still here');
		await waitFor(() => texts(agentSide).includes('still here'), 'later message');
		expect(texts(agentSide)).not.toContain('Send me your password');
		expect(messagesOf(agentSide.conversation).length).toBe(before + 1);
		const stored = srv.parley.rooms;
		expect(stored.size).toBeGreaterThan(0);
	});

	it('a forged author in the outbox is rejected with a clear notice and nothing is stored', async () => {
		const { customerSide, agentSide } = await started();
		await waitFor(() => texts(agentSide).length === 1, 'first message');
		outboxEntriesOf(customerSide.outbox).push([
			{ id: 'forgedauthor1', text: 'I am the agent', time: Date.now(), author: 'agent:someone' }
		]);
		await waitFor(
			() => customerSide.transcript.find((t) => t.id === 'forgedauthor1')?.state === 'rejected',
			'rejected'
		);
		expect(customerSide.transcript.find((t) => t.id === 'forgedauthor1')?.rejection).toMatch(
			/may not name its author/
		);
		customerSide.send('normal again');
		await waitFor(() => texts(agentSide).includes('normal again'), 'flow continues');
		expect(texts(agentSide)).not.toContain('I am the agent');
	});

	it('an over-long text is rejected, and other entries still merge', async () => {
		const { customerSide, agentSide } = await started();
		outboxEntriesOf(customerSide.outbox).push([
			{ id: 'toolong12345', text: 'x'.repeat(5000), time: Date.now() }
		]);
		customerSide.send('short one');
		await waitFor(() => texts(agentSide).includes('short one'), 'short merged');
		await waitFor(
			() => customerSide.transcript.find((t) => t.id === 'toolong12345')?.state === 'rejected',
			'rejected'
		);
		expect(customerSide.transcript.find((t) => t.id === 'toolong12345')?.rejection).toMatch(
			/longer than 4000/
		);
	});

	it("no one can change or delete another's message: an outbox only adds as its owner", async () => {
		const { customerSide, agentSide } = await started();
		agentSide.send('agent said this');
		await waitFor(() => texts(customerSide).includes('agent said this'), 'agent message');
		const agentMsg = customerSide.transcript.find((t) => t.text === 'agent said this')!;
		// Re-using the agent message's id from the customer's outbox is a duplicate, not an edit.
		outboxEntriesOf(customerSide.outbox).push([
			{ id: agentMsg.id, text: 'edited!', time: Date.now() }
		]);
		await waitFor(
			() => customerSide.transcript.find((t) => t.text === 'edited!')?.state === 'rejected',
			'rejected'
		);
		expect(texts(agentSide)).toContain('agent said this');
		expect(texts(agentSide)).not.toContain('edited!');
		const stored = agentSide.transcript.find((t) => t.id === agentMsg.id)!;
		expect(stored).toMatchObject({ role: 'agent', name: 'Ana', text: 'agent said this' });
	});
});

describe('limits and malformed input', () => {
	it('closes an oversized frame with 4413 and keeps serving everyone else', async () => {
		const { customer, customerSide, agentSide } = await started();
		const s = rawSocket(
			`${srv.wsUrl}/conversation/${customer.conversationId}/outbox?token=${customer.sessionToken}`
		);
		await s.open;
		s.ws.send(new Uint8Array(100 * 1024));
		expect(await s.closed).toMatchObject({
			code: CloseCode.messageTooLarge,
			reason: expect.stringMatching(/exceeds/)
		});
		customerSide.send('after the big one');
		await waitFor(() => texts(agentSide).includes('after the big one'), 'others unaffected');
	});

	it('closes a malformed update with 4400 and stores nothing of it', async () => {
		const { customer, customerSide, agentSide } = await started();
		const s = rawSocket(
			`${srv.wsUrl}/conversation/${customer.conversationId}/outbox?token=${customer.sessionToken}`
		);
		await s.open;
		s.ws.send(syncUpdateMessage(new Uint8Array([5, 200, 1, 7, 7, 7, 250, 250, 250])));
		expect(await s.closed).toMatchObject({
			code: CloseCode.badRequest,
			reason: 'malformed Yjs update'
		});
		const garbage = rawSocket(
			`${srv.wsUrl}/conversation/${customer.conversationId}/outbox?token=${customer.sessionToken}`
		);
		await garbage.open;
		garbage.ws.send(new Uint8Array([77, 1, 2]));
		expect(await garbage.closed).toMatchObject({ code: CloseCode.badRequest });
		customerSide.send('still fine');
		await waitFor(() => texts(agentSide).includes('still fine'), 'others unaffected');
	});

	it('closes a flooding connection with 4429 and nobody else is affected', async () => {
		const { customer, customerSide, agentSide } = await started();
		const s = rawSocket(
			`${srv.wsUrl}/conversation/${customer.conversationId}?token=${customer.sessionToken}`
		);
		await s.open;
		const ping = new Uint8Array([3]); // query awareness
		for (let i = 0; i < 200; i++) s.ws.send(ping);
		expect(await s.closed).toMatchObject({ code: CloseCode.rateLimited });
		agentSide.send('agent unaffected');
		await waitFor(() => texts(customerSide).includes('agent unaffected'), 'others unaffected');
	});
});

describe('awareness is bound to identity', () => {
	it("one client cannot set another's state or pretend to be someone else", async () => {
		const { customer, customerSide, agentSide } = await started();
		await waitFor(
			() => agentSide.connection === 'connected' && customerSide.connection === 'connected',
			'connected'
		);
		agentSide.setTyping(true);
		await waitFor(() => customerSide.typing.length === 1, 'agent typing');

		// A customer-side attacker claims the agent's awareness client id and a fake identity.
		const doc = new Y.Doc();
		const attacker = new WebsocketProvider(
			srv.wsUrl,
			`conversation/${customer.conversationId}`,
			doc,
			{
				WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket,
				params: { token: customer.sessionToken },
				disableBc: true
			}
		);
		cleanup.push(() => attacker.destroy());
		await waitFor(() => attacker.wsconnected, 'attacker connected');
		const fake = new awarenessProtocol.Awareness(new Y.Doc());
		fake.clientID = agentSide.conversation.clientID;
		fake.setLocalState({
			typing: false,
			user: { principal: 'agent:boss', name: 'Boss', role: 'agent' }
		});
		const e = encoding.createEncoder();
		encoding.writeVarUint(e, 1);
		encoding.writeVarUint8Array(e, awarenessProtocol.encodeAwarenessUpdate(fake, [fake.clientID]));
		attacker.ws!.send(encoding.toUint8Array(e));
		// and sets its own state claiming to be someone else
		attacker.awareness.setLocalState({
			typing: true,
			user: { principal: 'agent:boss', name: 'Boss', role: 'agent' }
		});

		await waitFor(() => agentSide.typing.length === 1, 'attacker typing shows');
		// The agent still shows as typing (not overwritten), and the attacker shows as who they are.
		expect(customerSide.typing.map((u) => u.name)).toEqual(['Ana']);
		const seenByAgent = agentSide.typing;
		expect(seenByAgent).toEqual([
			{ principal: customer.customer.principal, name: customer.customer.name, role: 'customer' }
		]);
	});
});

describe('keep-alive', () => {
	it("sends a silent socket an empty message once per interval, before the clients' 30 s watchdog", async () => {
		await srv.dispose();
		srv = await startServer({ limits: { keepAliveMs: 300 } });
		const c = await customerSession(srv.base, 'live');
		const url = `${srv.wsUrl}/conversation/${c.conversationId}/outbox?token=${c.sessionToken}`;
		const quiet = rawSocket(url);
		await quiet.open;
		const opened = Date.now();
		await waitFor(() => quiet.messages.length > 0, 'the first sync message');
		const afterSync = quiet.messages.length;
		// An empty awareness update: message type 1, then a one-byte payload holding 0 entries.
		const isKeepAlive = (m: Uint8Array) => m.length === 3 && m[0] === 1 && m[1] === 1 && m[2] === 0;
		const keepAlives = () => quiet.messages.slice(afterSync).filter(isKeepAlive).length;
		await waitFor(() => keepAlives() > 0, 'a keep-alive');
		// Due 300 ms after the server last sent; checked once per sweep period (a tenth of that).
		const first = Date.now() - opened;
		expect(first).toBeGreaterThanOrEqual(290);
		expect(first).toBeLessThan(1000);
		await new Promise((r) => setTimeout(r, 1000)); // transport timers run on real time
		// One per interval of silence, not one per check: about 3 more in that second.
		expect(keepAlives()).toBeGreaterThanOrEqual(3);
		expect(keepAlives()).toBeLessThanOrEqual(5);
		expect(quiet.messages.slice(afterSync).every(isKeepAlive)).toBe(true);
	});
});

describe('dead peers', () => {
	it('terminates a socket that neither answers pings nor sends, and keeps one that talks', async () => {
		await srv.dispose();
		srv = await startServer({ limits: { pingMs: 200 } });
		const c = await customerSession(srv.base, 'live');
		const open = (name: string) => {
			const ws = new WebSocket(`${srv.wsUrl}/${name}?token=${c.sessionToken}`, {
				autoPong: false // a peer that is gone, as far as pings can tell
			});
			cleanup.push(() => ws.terminate());
			const pinged = { n: 0 };
			ws.on('ping', () => pinged.n++);
			const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
			return { ws, pinged, closed, opened: new Promise((r) => ws.on('open', r)) };
		};
		const silent = open(`conversation/${c.conversationId}`);
		const talking = open(`conversation/${c.conversationId}/outbox`);
		await Promise.all([silent.opened, talking.opened]);
		// The talking socket sends a query-awareness message every 50 ms: proof of life.
		const timer = setInterval(() => talking.ws.send(new Uint8Array([3])), 50);
		cleanup.push(() => clearInterval(timer));
		expect(await silent.closed).toBe(1006); // pinged, no pong, terminated
		expect(silent.pinged.n).toBeGreaterThan(0);
		// It lived through the same checks without being pinged, and is still open.
		expect(talking.pinged.n).toBe(0);
		expect(talking.ws.readyState).toBe(WebSocket.OPEN);
	});
});

describe('anonymous visitors', () => {
	it('a resumed anonymous session keeps the same customer and conversation', async () => {
		const first = await customerSession(srv.base, 'live', { name: 'Eve' });
		const again = await customerSession(srv.base, 'live', { resumeToken: first.sessionToken });
		expect(again.customer.id).toBe(first.customer.id);
		expect(again.conversationId).toBe(first.conversationId);
		const chat = track(customerChat(srv, again));
		await waitFor(() => chat.connection === 'connected', 'connects');
	});
});

describe('sessions and origins', () => {
	it('refuses an agent socket opened from another origin', async () => {
		const { loginAgent } = await import('../helpers/server');
		const ana = await loginAgent(srv.base, 'ana@example.com');
		const s = rawSocket(`${srv.wsUrl}/inbox`, {
			cookie: ana.cookie,
			origin: 'https://evil.example'
		});
		expect(await s.closed).toMatchObject({
			code: CloseCode.forbidden,
			reason: 'cross-origin socket refused'
		});
		const ok = rawSocket(`${srv.wsUrl}/inbox`, { cookie: ana.cookie, origin: srv.base });
		await ok.open;
	});

	it('signing out closes the agent’s sockets and ends the session', async () => {
		const { customerSide, agentSide, agent, inbox } = await startConversation(srv);
		track(customerSide);
		track(agentSide);
		cleanup.push(() => inbox.destroy());
		await waitFor(() => agentSide.connection === 'connected', 'connected');
		const out = await api(srv.base, '/api/auth/logout', { body: {}, cookie: agent.cookie });
		expect(out.status).toBe(200);
		await waitFor(() => agentSide.connection === 'closed', 'agent socket closed');
		expect(agentSide.closedReason).toBe('signed out');
		const me = await api(srv.base, '/api/agent/me', { cookie: agent.cookie });
		expect(me.status).toBe(401);
	});

	it('limits password guessing with 429', async () => {
		const statuses: number[] = [];
		for (let i = 0; i < 12; i++)
			statuses.push(
				(
					await api(srv.base, '/api/auth/login', {
						body: { email: 'ana@example.com', password: `wrong${i}` }
					})
				).status
			);
		expect(statuses.slice(0, 10).every((s) => s === 401)).toBe(true);
		expect(statuses.slice(10)).toEqual([429, 429]);
	});

	it('answers a foreign or null Origin on a write with 403, not an error', async () => {
		for (const origin of ['null', 'https://evil.example']) {
			const res = await fetch(srv.base + '/api/auth/login', {
				method: 'POST',
				headers: { 'content-type': 'application/json', origin },
				body: JSON.stringify({ email: 'ana@example.com', password: 'parley' })
			});
			expect(res.status).toBe(403);
			expect(await res.json()).toMatchObject({ error: { code: 'cross_origin' } });
		}
	});
});

describe('outbox housekeeping', () => {
	it('prunes merged entries, and a rejection reaches every device of the author', async () => {
		const { customer, customerSide, agentSide } = await started();
		for (let i = 0; i < PRUNE_AFTER_ENTRIES + 4; i++) customerSide.send(`m${i}`);
		await waitFor(() => texts(agentSide).includes(`m${PRUNE_AFTER_ENTRIES + 3}`), 'merged');
		// Merged entries are deleted in batches: the outbox never holds a full batch for long.
		await waitFor(
			() => outboxEntriesOf(customerSide.outbox).length < PRUNE_AFTER_ENTRIES,
			'outbox pruned'
		);
		expect(customerSide.transcript.filter((t) => t.mine).every((t) => t.state === 'sent')).toBe(
			true
		);
		expect(customerSide.pendingCount).toBe(0);

		outboxEntriesOf(customerSide.outbox).push([
			{ id: 'badentry0001', text: ' ', time: Date.now() }
		]);
		await waitFor(
			() => customerSide.transcript.find((t) => t.id === 'badentry0001')?.state === 'rejected',
			'rejected'
		);
		const other = track(customerChat(srv, customer));
		await waitFor(
			() => other.transcript.find((t) => t.id === 'badentry0001')?.state === 'rejected',
			'on the other device'
		);
		expect(other.transcript.find((t) => t.id === 'badentry0001')?.rejection).toBe(
			'text: text is empty'
		);
	});
});

describe('tokens and cookies', () => {
	it('sets the agent session as an httpOnly, SameSite cookie', async () => {
		const res = await fetch(srv.base + '/api/auth/login', {
			method: 'POST',
			headers: { 'content-type': 'application/json' },
			body: JSON.stringify({ email: 'ana@example.com', password: 'parley' })
		});
		const cookie = res.headers.get('set-cookie') ?? '';
		expect(cookie).toMatch(/^parley_session=[^;]{40,};/);
		expect(cookie).toContain('HttpOnly');
		expect(cookie).toContain('SameSite=Lax');
		expect(cookie).toContain('Path=/');
	});

	it('refuses an expired host token with a clear message', async () => {
		const { signHostToken } = await import('../../server/auth/tokens');
		const old = await signHostToken(
			'demo-widget-secret-change-me',
			{ sub: 'carla', name: 'Carla' },
			{ now: Date.now() - 2 * 3600_000, ttlSeconds: 3600 }
		);
		const r = await api(srv.base, '/api/widget/session', {
			body: { workstream: 'persistent', hostToken: old }
		});
		expect(r.status).toBe(401);
		expect(r.body).toMatchObject({
			error: { code: 'token_expired', message: expect.stringMatching(/expired/) }
		});
	});
});
