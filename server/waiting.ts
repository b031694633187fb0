/**
 * Live-chat waiting notices (SPEC R5, C5): each waiting live customer's conversation document
 * carries `meta.waiting` — their position in the queue, the estimated wait and the text the
 * widget shows — rewritten when it changes. Persistent chat, offline messages and conversations
 * being transferred get none.
 *
 * Refreshed (debounced) after routing changes on this instance and on every queue sweep, so
 * changes made by other instances and the passing of time show up within a sweep.
 */
import type { Logger } from 'pino';
import type { Clock } from './clock';
import type { Repo } from './repo';
import type { RoomManager } from './sync/rooms';
import { SERVER_ORIGIN } from './sync/rooms';
import { metaOf, type ConversationMeta } from '../src/lib/domain/conversation-doc';
import { storedConversationKey } from '../src/lib/domain/doc-names';
import {
	ESTIMATE_WINDOW_MS,
	FALLBACK_SAMPLE,
	FALLBACK_WINDOW_MS,
	estimateWaitMs,
	offlineText,
	waitingNotice,
	type ServedRequest
} from '../src/lib/domain/queue-wait';
import { hasSkills, parseSkills } from '../src/lib/domain/routing';
import { isOpen, nextOpening, parseHours } from '../src/lib/domain/hours';

export class WaitingNotices {
	#timer: ReturnType<typeof setTimeout> | null = null;
	#running: Promise<void> | null = null;
	#again = false;
	/** Texts already written, so an unchanged position costs no document write. */
	readonly #written = new Map<string, string>();

	constructor(
		private readonly deps: {
			repo: Repo;
			rooms: RoomManager;
			clock: Clock;
			log: Logger;
			debounceMs: number;
		}
	) {}

	/** Refresh soon; a burst of changes costs one refresh. */
	schedule() {
		if (this.#timer) return;
		this.#timer = setTimeout(() => {
			this.#timer = null;
			void this.refresh();
		}, this.deps.debounceMs);
		this.#timer.unref?.();
	}

	refresh(): Promise<void> {
		if (this.#running) {
			this.#again = true;
			return this.#running;
		}
		this.#running = (async () => {
			do {
				this.#again = false;
				try {
					await this.#refresh();
				} catch (err) {
					this.deps.log.warn({ err }, 'waiting notices failed');
				}
			} while (this.#again);
			this.#running = null;
		})();
		return this.#running;
	}

	stop() {
		if (this.#timer) clearTimeout(this.#timer);
		this.#timer = null;
		return this.#running ?? Promise.resolve();
	}

	async #refresh() {
		const { repo, rooms, clock } = this.deps;
		const now = clock.now();
		const waiting = await repo.db
			.selectFrom('conversations as c')
			.innerJoin('workstreams as w', 'w.id', 'c.workstream_id')
			.leftJoin('queues as q', 'q.id', 'c.queue_id')
			.select([
				'c.id',
				'c.queue_id',
				'c.transfer_from',
				'q.skills',
				'w.queue_position_text',
				'w.wait_time_text',
				'w.hours',
				'w.offline_text'
			])
			.where('c.status', 'in', ['queued', 'offered'])
			.where('c.requested_at', 'is not', null)
			.where('c.offline_message', '=', 0)
			.where('w.mode', '=', 'live')
			.orderBy('c.requested_at')
			.orderBy('c.id')
			.execute();
		if (waiting.length === 0) {
			this.#written.clear();
			return;
		}
		// Requests served (first agent joined) since `since`: when they came, when answered.
		const servedSince = (since: number) =>
			repo.db
				.selectFrom('conversations as c')
				.innerJoin('participants as p', 'p.conversation_id', 'c.id')
				.select(['c.queue_id', 'c.requested_at'])
				.select((eb) => eb.fn.min('p.joined_at').as('accepted_at'))
				.where('p.joined_at', '>', since)
				.where('c.requested_at', 'is not', null)
				.groupBy(['c.id', 'c.queue_id', 'c.requested_at']);
		const servedByQueue = new Map<string, ServedRequest[]>();
		const add = (s: { queue_id: string | null; requested_at: unknown; accepted_at: unknown }) => {
			const key = s.queue_id ?? '';
			let list = servedByQueue.get(key);
			if (!list) servedByQueue.set(key, (list = []));
			list.push({ requestedAt: Number(s.requested_at), acceptedAt: Number(s.accepted_at) });
		};
		for (const s of await servedSince(now - ESTIMATE_WINDOW_MS).execute()) add(s);
		// A queue with customers waiting but nobody served this hour: its latest requests of the
		// past week (a bounded read, only then) give the estimate instead.
		for (const queue of new Set(waiting.map((w) => w.queue_id ?? '')))
			if (!servedByQueue.has(queue) && queue !== '')
				for (const s of await servedSince(now - FALLBACK_WINDOW_MS)
					.where('c.queue_id', '=', queue)
					.orderBy('accepted_at', 'desc')
					.limit(FALLBACK_SAMPLE)
					.execute())
					add(s);
		// Nobody Available who could take the request (the queue's skills; capacity aside, as a
		// busy agent frees up): the widget offers to take an address to reply to.
		const available = (
			await repo.db
				.selectFrom('agents')
				.select('skills')
				.where('presence', '=', 'Available')
				.where('disabled_at', 'is', null)
				.execute()
		).map((a) => ({ skills: parseSkills(a.skills) }));
		const nobodyFor = new Map<string | null, boolean>();
		const nobodyAvailableFor = (skillsJson: string | null) => {
			let nobody = nobodyFor.get(skillsJson);
			if (nobody === undefined) {
				const required = parseSkills(skillsJson);
				nobody = !available.some((agent) => hasSkills(agent, required));
				nobodyFor.set(skillsJson, nobody);
			}
			return nobody;
		};
		// Each workstream's hours, parsed once per refresh (many customers share one).
		const parsedHours = new Map<string | null, ReturnType<typeof parseHours>>();
		const hoursOf = (json: string | null) => {
			if (!parsedHours.has(json)) parsedHours.set(json, parseHours(json));
			return parsedHours.get(json)!;
		};
		const positions = new Map<string, number>();
		const still = new Set<string>();
		for (const w of waiting) {
			const queue = w.queue_id ?? '';
			const position = (positions.get(queue) ?? 0) + 1;
			positions.set(queue, position);
			// A transfer holds its place in the line, but its customer is mid-conversation (the
			// agent who transferred keeps it until someone accepts): no queue notice for them.
			if (w.transfer_from !== null) continue;
			still.add(w.id);
			// Outside operating hours (the hours closed while the customer had the widget open:
			// a new visitor gets the leave-a-message form instead): no position or estimate, which
			// would promise a chat soon, but the workstream's closed text, when it opens again, and
			// the offer to reply by email.
			const hours = hoursOf(w.hours);
			const closed = !isOpen(hours, now);
			const nobodyAvailable = closed || nobodyAvailableFor(w.skills);
			const estimateMs = closed
				? null
				: estimateWaitMs(position, servedByQueue.get(queue) ?? [], now);
			const text = closed
				? offlineText(w.offline_text)
				: waitingNotice(
						{ position: w.queue_position_text ?? undefined, wait: w.wait_time_text ?? undefined },
						position,
						estimateMs
					);
			const nextOpenAt = closed ? nextOpening(hours, now) : null;
			const written = `${nobodyAvailable ? 'nobody' : 'some'}:${nextOpenAt ?? ''}:${text}`;
			if (this.#written.get(w.id) === written) continue;
			const info: NonNullable<ConversationMeta['waiting']> = {
				position,
				estimateMs,
				text,
				...(nobodyAvailable ? { nobodyAvailable: true } : {}),
				...(closed ? { closed: true, nextOpenAt } : {})
			};
			await rooms.with(storedConversationKey(w.id), (room) => {
				// Another instance may have written the same text already (each sweeps the queue).
				const current = metaOf(room.doc).get('waiting') as ConversationMeta['waiting'];
				if (
					current?.text === text &&
					current.position === position &&
					(current.nobodyAvailable ?? false) === nobodyAvailable &&
					(current.nextOpenAt ?? null) === nextOpenAt
				)
					return;
				room.doc.transact(() => metaOf(room.doc).set('waiting', info), SERVER_ORIGIN);
			});
			this.#written.set(w.id, written);
		}
		for (const id of this.#written.keys()) if (!still.has(id)) this.#written.delete(id);
	}
}
