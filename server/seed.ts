/** Demo data: a workstream of each mode, three agents and an admin (password "parley"). */
import type { Repo } from './repo';
import { newId } from './repo';
import { hashPassword } from './auth/passwords';
import type { Config } from './config';

export const DEMO_PASSWORD = 'parley';
/** Ben has no `accounts` skill, so the persistent workstream's requests never reach him. */
export const DEMO_AGENTS = [
	{ email: 'ana@example.com', name: 'Ana', role: 'agent' as const, skills: ['chat', 'accounts'] },
	{ email: 'ben@example.com', name: 'Ben', role: 'agent' as const, skills: ['chat'] },
	{ email: 'cleo@example.com', name: 'Cleo', role: 'agent' as const, skills: ['chat', 'accounts'] },
	{ email: 'admin@example.com', name: 'Admin', role: 'admin' as const, skills: ['chat'] }
];

/** Canned responses; parameters are filled in when an agent inserts one (SPEC A4). */
export const DEMO_TEMPLATES = [
	{
		name: 'Greeting',
		text: 'Hi <customer.name>, I am <agent.name> from <queue.name>. How can I help?'
	},
	{
		name: 'Follow up by email',
		text: 'I will send the details to <customer.email> within one working day.'
	},
	{
		name: 'Reference number',
		text: 'Your reference for this conversation is <conversation.id>.'
	},
	{ name: 'Closing', text: 'Is there anything else I can help you with today?' }
];

/** Inserts the demo data if the store has no agents yet. Returns true if it did. */
export async function seedDemo(repo: Repo, config: Config, now: number): Promise<boolean> {
	const any = await repo.db.selectFrom('agents').select('id').limit(1).executeTakeFirst();
	if (any) return false;
	const hash = await hashPassword(DEMO_PASSWORD);
	const general = newId('q');
	const accounts = newId('q');
	await repo.db.transaction().execute(async (trx) => {
		await trx
			.insertInto('queues')
			.values([
				{
					id: general,
					name: 'General',
					skills: '["chat"]',
					offer_timeout_ms: null,
					created_at: now
				},
				{
					id: accounts,
					name: 'Account care',
					skills: '["accounts"]',
					offer_timeout_ms: null,
					created_at: now
				}
			])
			.execute();
		const settings = {
			hours: null,
			queue_position_text: null,
			wait_time_text: null,
			offline_text: null,
			keep_wait_ms: 5 * 60_000
		};
		await trx
			.insertInto('workstreams')
			.values([
				{
					...settings,
					id: newId('ws'),
					slug: 'live',
					name: 'Live chat',
					mode: 'live',
					style: 'live',
					queue_id: general,
					keep_same_agent: 0,
					auth_required: 0,
					secret: config.demoWidgetSecret + '-live',
					title: 'Chat with us',
					greeting: 'Hi! Ask us anything — an agent will join shortly.',
					created_at: now
				},
				{
					id: newId('ws'),
					slug: 'persistent',
					name: 'Account care',
					...settings,
					mode: 'persistent',
					style: 'social',
					queue_id: accounts,
					keep_same_agent: 1,
					auth_required: 1,
					secret: config.demoWidgetSecret,
					title: 'Your account team',
					greeting: 'Write any time — we keep the whole conversation, and reply when we are in.',
					created_at: now
				}
			])
			.execute();
		await trx
			.insertInto('skills')
			.values(
				[...new Set(DEMO_AGENTS.flatMap((a) => a.skills))].map((name) => ({
					name,
					created_at: now
				}))
			)
			.onConflict((oc) => oc.column('name').doNothing())
			.execute();
		await trx
			.insertInto('templates')
			.values(
				DEMO_TEMPLATES.map((t) => ({
					id: newId('tp'),
					name: t.name,
					text: t.text,
					created_at: now
				}))
			)
			.execute();
		for (const a of DEMO_AGENTS)
			await trx
				.insertInto('agents')
				.values({
					id: newId('ag'),
					email: a.email,
					name: a.name,
					password_hash: hash,
					role: a.role,
					capacity: 3,
					presence: 'Offline',
					presence_since: now,
					skills: JSON.stringify(a.skills),
					idle_since: now,
					created_at: now
				})
				.execute();
	});
	return true;
}
