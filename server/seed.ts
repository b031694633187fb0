/** Demo data: a workstream of each mode, three agents and an admin (password "parley"). */
import type { Repo } from './repo';
import { newId } from './repo';
import { hashPassword } from './auth/passwords';
import type { Config } from './config';

export const DEMO_PASSWORD = 'parley';
export const DEMO_AGENTS = [
	{ email: 'ana@example.com', name: 'Ana', role: 'agent' as const },
	{ email: 'ben@example.com', name: 'Ben', role: 'agent' as const },
	{ email: 'cleo@example.com', name: 'Cleo', role: 'agent' as const },
	{ email: 'admin@example.com', name: 'Admin', role: 'admin' as const }
];

/** Inserts the demo data if the store has no agents yet. Returns true if it did. */
export async function seedDemo(repo: Repo, config: Config, now: number): Promise<boolean> {
	const any = await repo.db.selectFrom('agents').select('id').limit(1).executeTakeFirst();
	if (any) return false;
	const hash = await hashPassword(DEMO_PASSWORD);
	await repo.db.transaction().execute(async (trx) => {
		await trx
			.insertInto('workstreams')
			.values([
				{
					id: newId('ws'),
					slug: 'live',
					name: 'Live chat',
					mode: 'live',
					queue_name: 'General',
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
					mode: 'persistent',
					queue_name: 'Account care',
					auth_required: 1,
					secret: config.demoWidgetSecret,
					title: 'Your account team',
					greeting: 'Write any time — we keep the whole conversation, and reply when we are in.',
					created_at: now
				}
			])
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
					created_at: now
				})
				.execute();
	});
	return true;
}
