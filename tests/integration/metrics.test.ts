/** `GET /metrics`: what a chat does to the counters, and who may read them. */
import { afterEach, describe, expect, it } from 'vitest';
import { startServer, startConversation, waitFor, type TestServer } from '../helpers/server';
import type { ChatSession } from '../../src/lib/client/chat-session';
import { outboxEntriesOf } from '../../src/lib/domain/conversation-doc';

const servers: TestServer[] = [];
const sessions: ChatSession[] = [];
afterEach(async () => {
	for (const s of sessions.splice(0)) s.destroy();
	for (const s of servers.splice(0)) await s.dispose();
});

async function scrape(srv: TestServer, headers: Record<string, string> = {}) {
	const res = await fetch(`${srv.base}/metrics`, { headers });
	return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
}

/** The value of one sample line (`name{labels} value`), or undefined. */
function sample(text: string, series: string): number | undefined {
	const line = text.split('\n').find((l) => l.startsWith(`${series} `));
	return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

const texts = (s: ChatSession) => s.transcript.filter((t) => t.kind === 'text').map((t) => t.text);

describe('metrics', () => {
	it('count merged messages, store commits and open sockets', async () => {
		const srv = await startServer();
		servers.push(srv);
		const { customerSide, agentSide, inbox } = await startConversation(srv);
		sessions.push(customerSide, agentSide);
		inbox.destroy();
		const before = await scrape(srv);
		expect(before.status).toBe(200);
		expect(before.type).toContain('text/plain');
		const merged = (t: string) =>
			(sample(t, 'parley_messages_merged_total{path="immediate"}') ?? 0) +
			(sample(t, 'parley_messages_merged_total{path="deferred"}') ?? 0);
		const commits = (t: string) => sample(t, 'parley_store_commit_seconds_count') ?? 0;
		expect(merged(before.text)).toBeGreaterThanOrEqual(1); // the customer's first message
		for (let i = 0; i < 3; i++) {
			customerSide.send(`c${i}`);
			await waitFor(() => texts(agentSide).includes(`c${i}`), `c${i}`);
		}
		agentSide.send('a reply');
		await waitFor(() => texts(agentSide).length === 5 && texts(customerSide).length === 5, 'all');
		const after = await scrape(srv);
		// Four more messages, each merged once, whichever path it took.
		expect(merged(after.text) - merged(before.text)).toBe(4);
		// One instance: the customer's, into a conversation held in memory whose request is
		// recorded, in the turn they arrived. (Several instances: an outbox's merges wait for
		// their own durability before the next, so some take the deferred path by design.)
		const immediate = (t: string) =>
			sample(t, 'parley_messages_merged_total{path="immediate"}') ?? 0;
		if (!srv.shared)
			expect(immediate(after.text) - immediate(before.text)).toBeGreaterThanOrEqual(3);
		expect(commits(after.text)).toBeGreaterThan(commits(before.text));
		expect(sample(after.text, 'parley_store_updates_total')).toBeGreaterThanOrEqual(
			merged(after.text)
		);
		// Two participants, each with a transcript and an outbox socket.
		expect(sample(after.text, 'parley_websocket_connections')).toBeGreaterThanOrEqual(4);
		expect(sample(after.text, 'parley_documents_in_memory')).toBeGreaterThanOrEqual(3);
		expect(after.text).toContain('process_cpu_user_seconds_total');
		expect(after.text).toContain('nodejs_eventloop_lag_p99_seconds');

		// A refused entry is counted as such, not as merged.
		const refused = (t: string) => sample(t, 'parley_outbox_entries_rejected_total') ?? 0;
		outboxEntriesOf(customerSide.outbox).push([
			{ id: 'toolong12345', text: 'x'.repeat(5000), time: Date.now() }
		]);
		await waitFor(
			() => customerSide.transcript.find((t) => t.id === 'toolong12345')?.state === 'rejected',
			'rejected'
		);
		const last = await scrape(srv);
		expect(refused(last.text) - refused(after.text)).toBe(1);
		expect(merged(last.text)).toBe(merged(after.text));
	});

	it('without a token, only direct requests from this machine may read them', async () => {
		const srv = await startServer();
		servers.push(srv);
		expect((await scrape(srv)).status).toBe(200);
		const proxied = await scrape(srv, { 'x-forwarded-for': '203.0.113.9' });
		expect(proxied.status).toBe(403);
		expect(JSON.parse(proxied.text).error.message).toContain('PARLEY_METRICS_TOKEN');
		expect((await scrape(srv, { forwarded: 'for=203.0.113.9' })).status).toBe(403);
	});

	it('with a token, the bearer token is required', async () => {
		const srv = await startServer({ config: { metricsToken: 'scrape-token-0123456789' } });
		servers.push(srv);
		const missing = await fetch(`${srv.base}/metrics`);
		expect(missing.status).toBe(401);
		expect(missing.headers.get('www-authenticate')).toBe('Bearer');
		expect((await scrape(srv, { authorization: 'Bearer wrong-token-0123456789' })).status).toBe(
			401
		);
		const ok = await scrape(srv, {
			authorization: 'Bearer scrape-token-0123456789',
			'x-forwarded-for': '203.0.113.9'
		});
		expect(ok.status).toBe(200);
		expect(ok.text).toContain('parley_websocket_connections');
	});
});
