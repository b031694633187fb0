/**
 * Tickets as integrators see them (`/api/v1`, webhooks): one JSON shape built from the
 * conversation row and what it refers to. Internal notes are not in it; events are separate.
 */
import type { Db } from './repo';

interface TicketFilter {
	status?: string[];
	workstream?: string;
	queue?: string;
	agent?: string;
	channel?: string;
	/** Only tickets updated at or after this time (ms). */
	updatedSince?: number;
	/** Keyset cursor: tickets created before this (created_at, id), newest first. */
	before?: { createdAt: number; id: string };
	limit: number;
}

/** Columns of a ticket listing, joined with its workstream, queue and customer. */
function baseQuery(db: Db) {
	return db
		.selectFrom('conversations as c')
		.innerJoin('workstreams as w', 'w.id', 'c.workstream_id')
		.innerJoin('customers as cu', 'cu.id', 'c.customer_id')
		.leftJoin('queues as q', 'q.id', 'c.queue_id')
		.select([
			'c.id',
			'c.status',
			'c.ticket_status',
			'c.session_status',
			'c.session_ended_by',
			'c.channel',
			'c.tags',
			'c.wrap_up_reason',
			'c.requested_at',
			'c.first_response_at',
			'c.ended_at',
			'c.solved_at',
			'c.closed_at',
			'c.csat_rating',
			'c.csat_comment',
			'c.csat_at',
			'c.created_at',
			'c.updated_at',
			'w.slug as workstream_slug',
			'w.mode as workstream_mode',
			'q.id as queue_id',
			'q.name as queue_name',
			'cu.id as customer_id',
			'cu.name as customer_name',
			'cu.email as customer_email',
			'cu.external_id as customer_external_id'
		]);
}

type TicketRow = Awaited<ReturnType<ReturnType<typeof baseQuery>['executeTakeFirstOrThrow']>>;

const ms = (v: number | null) => (v === null ? null : new Date(Number(v)).toISOString());

function view(r: TicketRow, agents: { id: string; name: string }[]) {
	return {
		id: r.id,
		status: r.ticket_status,
		conversationStatus: r.status,
		session: { status: r.session_status, endedBy: r.session_ended_by },
		channel: r.channel,
		workstream: { slug: r.workstream_slug, mode: r.workstream_mode },
		queue: r.queue_id ? { id: r.queue_id, name: r.queue_name } : null,
		customer: {
			id: r.customer_id,
			externalId: r.customer_external_id,
			name: r.customer_name,
			email: r.customer_email
		},
		/** The agents in the conversation now, the first one holding it. */
		agents,
		tags: JSON.parse(r.tags) as string[],
		wrapUpReason: r.wrap_up_reason,
		csat:
			r.csat_rating === null
				? null
				: { rating: r.csat_rating, comment: r.csat_comment, at: ms(r.csat_at) },
		requestedAt: ms(r.requested_at),
		firstResponseAt: ms(r.first_response_at),
		endedAt: ms(r.ended_at),
		solvedAt: ms(r.solved_at),
		closedAt: ms(r.closed_at),
		createdAt: ms(r.created_at),
		updatedAt: ms(r.updated_at)
	};
}
type TicketView = ReturnType<typeof view>;

async function withAgents(db: Db, rows: TicketRow[]): Promise<TicketView[]> {
	if (rows.length === 0) return [];
	const parts = await db
		.selectFrom('participants as p')
		.innerJoin('agents as a', 'a.id', 'p.agent_id')
		.select(['p.conversation_id', 'a.id', 'a.name'])
		.where(
			'p.conversation_id',
			'in',
			rows.map((r) => r.id)
		)
		.orderBy('p.joined_at')
		.execute();
	return rows.map((r) =>
		view(
			r,
			parts.filter((p) => p.conversation_id === r.id).map((p) => ({ id: p.id, name: p.name }))
		)
	);
}

export async function ticketById(db: Db, id: string): Promise<TicketView | null> {
	const row = await baseQuery(db).where('c.id', '=', id).executeTakeFirst();
	return row ? (await withAgents(db, [row]))[0] : null;
}

/** Newest first; `next` is the cursor of the following page, or null. */
export async function listTickets(db: Db, f: TicketFilter) {
	let q = baseQuery(db);
	if (f.status?.length) q = q.where('c.ticket_status', 'in', f.status);
	if (f.workstream) q = q.where('w.slug', '=', f.workstream);
	if (f.queue) q = q.where('c.queue_id', '=', f.queue);
	if (f.channel) q = q.where('c.channel', '=', f.channel);
	if (f.updatedSince !== undefined) q = q.where('c.updated_at', '>=', f.updatedSince);
	if (f.agent)
		q = q.where((eb) =>
			eb.exists(
				eb
					.selectFrom('participants as pa')
					.select('pa.agent_id')
					.whereRef('pa.conversation_id', '=', 'c.id')
					.where('pa.agent_id', '=', f.agent!)
			)
		);
	if (f.before) {
		const { createdAt, id } = f.before;
		q = q.where((eb) =>
			eb.or([
				eb('c.created_at', '<', createdAt),
				eb.and([eb('c.created_at', '=', createdAt), eb('c.id', '<', id)])
			])
		);
	}
	const rows = await q
		.orderBy('c.created_at', 'desc')
		.orderBy('c.id', 'desc')
		.limit(f.limit + 1)
		.execute();
	const page = rows.slice(0, f.limit);
	const last = page[page.length - 1];
	return {
		tickets: await withAgents(db, page),
		next:
			rows.length > f.limit && last
				? Buffer.from(JSON.stringify([Number(last.created_at), last.id])).toString('base64url')
				: null
	};
}

export function parseCursor(cursor: string): { createdAt: number; id: string } | null {
	try {
		const [createdAt, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
		return typeof createdAt === 'number' && typeof id === 'string' ? { createdAt, id } : null;
	} catch {
		return null;
	}
}

/** A ticket's history, oldest first, as integrators see it. */
export async function ticketEvents(db: Db, conversationId: string) {
	const rows = await db
		.selectFrom('conversation_events')
		.selectAll()
		.where('conversation_id', '=', conversationId)
		.orderBy('at')
		.orderBy('id')
		.execute();
	return rows.map((e) => ({
		id: e.id,
		type: e.type,
		actor: e.actor,
		data: JSON.parse(e.data) as Record<string, unknown>,
		at: new Date(Number(e.at)).toISOString()
	}));
}
