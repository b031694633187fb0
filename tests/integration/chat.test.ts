/** Customer and agents chat through the real server with stock y-websocket clients. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
	startServer,
	startConversation,
	customerChat,
	waitFor,
	type TestServer,
	agentChat,
	loginAgent,
	dropTranscriptSocket
} from '../helpers/server';
import type { ChatSession } from '../../src/lib/client/chat-session';

let srv: TestServer;
const sessions: ChatSession[] = [];
beforeEach(async () => {
	srv = await startServer();
});
afterEach(async () => {
	for (const s of sessions.splice(0)) s.destroy();
	await srv.dispose();
});

const texts = (s: ChatSession) => s.transcript.filter((t) => t.kind === 'text').map((t) => t.text);

/** An accepted conversation, with the customer on a second device too. */
async function withSecondDevice() {
	const started = await startConversation(srv);
	started.inbox.destroy();
	const second = customerChat(srv, started.customer);
	sessions.push(started.customerSide, started.agentSide, second);
	await second.ready;
	return { ...started, second };
}

/** An accepted conversation whose customer and agent sockets are both connected. */
async function connectedConversation() {
	const started = await startConversation(srv);
	sessions.push(started.customerSide, started.agentSide);
	started.inbox.destroy();
	const { customerSide, agentSide } = started;
	await waitFor(
		() => agentSide.connection === 'connected' && customerSide.connection === 'connected',
		'connected'
	);
	return started;
}

describe('a first conversation', () => {
	it('offers the request to an Available agent, who accepts and chats in real time', async () => {
		const { customerSide, agentSide, inbox } = await startConversation(srv);
		sessions.push(customerSide, agentSide);
		inbox.destroy();
		await waitFor(
			() => texts(agentSide).includes('Hello, I need help'),
			'agent sees the first message'
		);
		await waitFor(
			() =>
				customerSide.transcript.some(
					(t) => t.kind === 'system' && t.text === 'Ana joined the chat'
				),
			'join notice'
		);
		agentSide.send('Hi Dana, how can I help?');
		await waitFor(
			() => texts(customerSide).includes('Hi Dana, how can I help?'),
			'customer sees the reply'
		);
		expect(customerSide.meta.status).toBe('active');
		expect(customerSide.meta.agents?.map((a) => a.name)).toEqual(['Ana']);
	});

	it('shows pending, then sent, then read', async () => {
		const { customerSide, agentSide, inbox } = await startConversation(srv);
		sessions.push(customerSide, agentSide);
		inbox.destroy();
		await waitFor(
			() => customerSide.transcript.find((t) => t.text === 'Hello, I need help')?.state === 'sent',
			'sent'
		);
		customerSide.disconnect();
		const r = customerSide.send('while offline');
		expect(r.ok).toBe(true);
		expect(customerSide.transcript.find((t) => t.text === 'while offline')?.state).toBe('pending');
		customerSide.connect();
		await waitFor(
			() => customerSide.transcript.find((t) => t.text === 'while offline')?.state === 'sent',
			'sent after reconnect'
		);
		await waitFor(() => texts(agentSide).includes('while offline'), 'agent has it');
		agentSide.markSeen();
		await waitFor(
			() => customerSide.transcript.filter((t) => t.mine).every((t) => t.state === 'read'),
			'read marks'
		);
	});

	it('shows who is typing, bound to the server-known identity', async () => {
		const { customerSide, agentSide } = await connectedConversation();
		agentSide.setTyping(true);
		const typers = await waitFor(
			() => (customerSide.typing.length ? customerSide.typing : null),
			'typing'
		);
		expect(typers).toEqual([
			{ principal: agentSide.opts.me.principal, name: 'Ana', role: 'agent' }
		]);
		agentSide.setTyping(false);
		await waitFor(() => customerSide.typing.length === 0, 'typing stops');
	});

	it('shows typing again after the agent’s socket drops and reconnects', async () => {
		const { customerSide, agentSide } = await connectedConversation();
		agentSide.setTyping(true);
		await waitFor(() => customerSide.typing.length === 1, 'typing');
		// A bad network: the agent's provider reconnects with the same awareness client id. The
		// server removes the agent's state, and the customer's stock provider echoes that removal.
		await dropTranscriptSocket(agentSide, customerSide);
		// Back with the same client id, its state (still typing) shows again at once, although
		// the server's removal took the clock it announces itself with; and so does each change.
		await waitFor(() => customerSide.typing.length === 1, 'typing again after reconnecting');
		expect(customerSide.typing).toEqual([
			{ principal: agentSide.opts.me.principal, name: 'Ana', role: 'agent' }
		]);
		agentSide.setTyping(false);
		await waitFor(() => customerSide.typing.length === 0, 'the first change after reconnecting');
		agentSide.setTyping(true);
		await waitFor(() => customerSide.typing.length === 1, 'and the next');
	});

	it('a customer on two devices: typing from either shows, and the devices do not echo each other forever', async () => {
		const { customerSide, agentSide, second } = await withSecondDevice();
		const all = [customerSide, second, agentSide];
		await waitFor(() => all.every((s) => s.connection === 'connected'), 'connected');
		// Each stock provider sends back what it receives, including its sibling's states.
		customerSide.setTyping(true);
		await waitFor(() => agentSide.typing.length === 1, 'first device typing');
		customerSide.setTyping(false);
		await waitFor(() => agentSide.typing.length === 0, 'stops');
		second.setTyping(true);
		await waitFor(() => agentSide.typing.length === 1, 'second device typing');
		expect(second.typing).toEqual([]); // its own principal is not "someone typing"
		// Once quiet, nothing keeps bouncing between the two devices through the server.
		let updates = 0;
		const count = () => updates++;
		agentSide.conversationProvider.awareness.on('update', count);
		await new Promise((r) => setTimeout(r, 300));
		agentSide.conversationProvider.awareness.off('update', count);
		expect(updates).toBe(0);
		expect(all.map((s) => s.connection)).toEqual(['connected', 'connected', 'connected']);
	});

	it('converges with three peers: the customer on two devices and the agent', async () => {
		const { customerSide, agentSide, second: secondDevice } = await withSecondDevice();
		const writes: Promise<unknown>[] = [];
		for (let i = 0; i < 20; i++) {
			customerSide.send(`a${i}`);
			secondDevice.send(`b${i}`);
			agentSide.send(`g${i}`);
			if (i % 5 === 0) writes.push(new Promise((r) => setTimeout(r, 5)));
		}
		await Promise.all(writes);
		const expected = 1 + 60;
		await waitFor(
			() =>
				[customerSide, secondDevice, agentSide].every(
					(s) =>
						s.transcript.filter((t) => t.kind === 'text' && t.state !== 'pending').length ===
						expected
				),
			'all peers have every message'
		);
		const orders = [customerSide, secondDevice, agentSide].map((s) => texts(s).join(','));
		expect(new Set(orders).size).toBe(1);
		const all = texts(agentSide);
		expect(new Set(all).size).toBe(all.length);
		// each writer's order is kept
		for (const p of ['a', 'b', 'g']) {
			const mine = all.filter((t) => t.startsWith(p) && /^\w\d+$/.test(t));
			expect(mine).toEqual(Array.from({ length: 20 }, (_, i) => `${p}${i}`));
		}
	});

	it('lets a second agent in only after they are a participant', async () => {
		const { customer, customerSide, agentSide, inbox } = await startConversation(srv);
		inbox.destroy();
		sessions.push(customerSide, agentSide);
		const ben = await loginAgent(srv.base, 'ben@example.com');
		const intruder = agentChat(srv, ben, customer.conversationId);
		sessions.push(intruder);
		await waitFor(() => intruder.connection === 'closed', 'refused');
		expect(intruder.closedReason).toMatch(/not a participant/);
	});
});
