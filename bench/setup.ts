/** Prepares a Parley store for the benchmark: N active conversations, each with a customer and an agent. */
import pino from 'pino';
import { createParley } from '../server/app';
import { testConfig } from '../server/config';
import { newId } from '../server/repo';
import { signWidgetSession } from '../server/auth/tokens';
import { SERVER_ORIGIN } from '../server/sync/rooms';
import { storedConversationKey } from '../src/lib/domain/doc-names';
import { metaOf, messagesOf, type ConversationMeta } from '../src/lib/domain/conversation-doc';

export interface BenchPair {
	conversationId: string;
	customer: { principal: string; name: string; token: string };
	agent: { principal: string; name: string; cookie: string };
}

export async function seedBench(
	store: { databasePath: string; databaseUrl?: string },
	conversations: number,
	sessionSecret: string
): Promise<BenchPair[]> {
	const config = testConfig({
		...store,
		logLevel: 'silent',
		sessionSecret,
		seedDemo: true
	});
	const parley = await createParley({ config, log: pino({ level: 'silent' }) });
	const { repo } = parley;
	const ws = (await repo.workstreamBySlug('live'))!;
	const template = (await repo.agentByEmail('ana@example.com'))!;
	const now = Date.now();
	const agentCount = Math.max(1, Math.ceil(conversations / 20));
	const agents: { id: string; name: string; cookie: string }[] = [];
	for (let i = 0; i < agentCount; i++) {
		const id = newId('ag');
		await repo.db
			.insertInto('agents')
			.values({
				...template,
				id,
				email: `bench${i}@example.com`,
				name: `Bench agent ${i}`,
				capacity: 1000,
				presence: 'Busy'
			})
			.execute();
		// An agent session like the one /api/auth/login creates.
		const { createHash, randomBytes } = await import('node:crypto');
		const token = randomBytes(32).toString('base64url');
		await repo.db
			.insertInto('auth_sessions')
			.values({
				id_hash: createHash('sha256').update(token).digest('base64url'),
				agent_id: id,
				expires_at: now + 86400_000,
				created_at: now
			})
			.execute();
		agents.push({ id, name: `Bench agent ${i}`, cookie: `parley_session=${token}` });
	}
	const key = new TextEncoder().encode(sessionSecret);
	const pairs: BenchPair[] = [];
	await repo.db.transaction().execute(async (trx) => {
		for (let i = 0; i < conversations; i++) {
			const customerId = newId('cu');
			const conversationId = newId('cv');
			const agent = agents[i % agents.length];
			await trx
				.insertInto('customers')
				.values({
					id: customerId,
					workstream_id: ws.id,
					external_id: null,
					name: `Customer ${i}`,
					email: null,
					authenticated: 0,
					created_at: now
				})
				.execute();
			await trx
				.insertInto('conversations')
				.values({
					id: conversationId,
					workstream_id: ws.id,
					customer_id: customerId,
					status: 'active',
					ticket_status: 'open',
					requested_at: now,
					queue_id: ws.queue_id,
					offline_message: 0,
					created_at: now,
					updated_at: now
				})
				.execute();
			await trx
				.insertInto('participants')
				.values({ conversation_id: conversationId, agent_id: agent.id, joined_at: now })
				.execute();
			const token = await signWidgetSession(
				key,
				{ customerId, workstreamId: ws.id },
				{ now, ttlMs: 86400_000 }
			);
			pairs.push({
				conversationId,
				customer: { principal: `customer:${customerId}`, name: `Customer ${i}`, token },
				agent: { principal: `agent:${agent.id}`, name: agent.name, cookie: agent.cookie }
			});
		}
	});
	// The documents as an accepted conversation has them (status, agents, the join notice): the
	// server's merge reads them, e.g. a customer writing into an active conversation makes it
	// check the ticket and the agents' presence.
	for (const [i, pair] of pairs.entries())
		await parley.rooms.with(storedConversationKey(pair.conversationId), (room) => {
			const meta: ConversationMeta = {
				id: pair.conversationId,
				mode: ws.mode,
				workstream: ws.name,
				status: 'active',
				customerName: pair.customer.name,
				agents: [{ principal: pair.agent.principal, name: pair.agent.name }]
			};
			room.doc.transact(() => {
				for (const [k, v] of Object.entries(meta)) metaOf(room.doc).set(k, v);
				messagesOf(room.doc).push([
					{
						id: `join${i}`,
						kind: 'system',
						role: 'system',
						author: 'system',
						name: 'Parley',
						text: `${pair.agent.name} joined the chat`,
						time: now,
						at: now
					}
				]);
			}, SERVER_ORIGIN);
			return room.whenDurable();
		});
	await parley.close();
	return pairs;
}
