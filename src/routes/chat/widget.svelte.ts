/**
 * The customer widget's state: getting a session (host token, resumed anonymous session, or
 * the cached one when offline), the chat itself, and the host site's logout call.
 */
import { ChatSession } from '$lib/client/chat-session';
import { ChatView } from '$lib/client/chat.svelte';
import { clearLocalData, followNetwork, indexeddb, syncUrl } from '$lib/client/persistence';
import { learnServerTime, serverNow } from '$lib/client/server-clock';

export interface EarlierConversation {
	id: string;
	startedAt: number;
	endedAt: number | null;
}

export interface WidgetSession {
	sessionToken: string;
	expiresAt: number;
	conversationId: string;
	/** The customer's previous conversation, if it ended (shown above, read-only). */
	previousConversationId?: string | null;
	/** Their ended conversations, newest first (the first is the previous one); absent in older sessions. */
	earlierConversations?: EarlierConversation[];
	customer: {
		id: string;
		principal: string;
		name: string;
		authenticated: boolean;
		/** The address to reply to, if the customer gave one (absent in sessions kept by older versions). */
		email?: string | null;
	};
	workstream: {
		slug: string;
		name: string;
		mode: 'live' | 'persistent';
		title: string;
		greeting: string;
		authRequired: boolean;
		/** Inside operating hours (a live workstream outside them takes messages instead). */
		open: boolean;
		nextOpenAt: number | null;
		offlineText: string;
		/** The workstream's colour (CSS hex); older servers do not send it. */
		color?: string;
	};
}

export { accentColors } from '$lib/domain/accent';

export interface OfflineForm {
	busy: boolean;
	/** The address we will reply to, once the message is stored. */
	sentTo: string | null;
	/** Field-level problems (`email`, `message`) or `_` for the form as a whole. */
	errors: Record<string, string>;
}

type Phase =
	| { kind: 'loading' }
	| { kind: 'prechat' }
	| { kind: 'offline' }
	| { kind: 'needs-sign-in'; message: string }
	| { kind: 'error'; message: string }
	/** `unsent`: messages written offline that the host's logout deleted before they were sent. */
	| { kind: 'signed-out'; unsent: number }
	| { kind: 'chat' };

const storageKey = (slug: string) => `parley:widget:${slug}`;

type KeyValueStore = Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>;

/**
 * The browser's storage, or null when it is denied: an iframe on another site while the
 * browser blocks third-party storage (private windows, strict settings) throws on any access.
 */
function browserStorage(): KeyValueStore | null {
	try {
		const s = window.localStorage;
		s.getItem('parley:probe');
		return s;
	} catch {
		return null;
	}
}

/** Keeps the session for as long as the page lives, where the browser stores nothing for us. */
function memoryStorage(): KeyValueStore {
	// eslint-disable-next-line svelte/prefer-svelte-reactivity -- not state, a plain store
	const m = new Map<string, string>();
	return {
		getItem: (k) => m.get(k) ?? null,
		setItem: (k, v) => void m.set(k, v),
		removeItem: (k) => void m.delete(k)
	};
}

export class Widget {
	phase = $state<Phase>({ kind: 'loading' });
	session = $state<WidgetSession | null>(null);
	chat = $state<ChatView | null>(null);
	/** The conversation before this one (ended), read-only: its history stays readable. */
	previous = $state<ChatView | null>(null);
	/**
	 * The ones before that, oldest first, each loaded only when the customer opens it (two
	 * sockets each): `view` is set then.
	 */
	older = $state<(EarlierConversation & { view: ChatView | null })[]>([]);
	/** The workstream's public settings, known before a session exists (title, greeting). */
	info = $state<WidgetSession['workstream'] | null>(null);
	offline = $state<OfflineForm>({ busy: false, sentTo: null, errors: {} });
	#stopNetwork: (() => void) | null = null;
	/**
	 * False where the browser denies this frame storage: the widget then works from memory (the
	 * session lasts as long as the page; a signed-in customer's host token brings them back).
	 */
	readonly persistent: boolean;
	#store: KeyValueStore;

	constructor(
		readonly slug: string,
		private hostToken: string | null
	) {
		const store = browserStorage();
		this.persistent = store !== null;
		this.#store = store ?? memoryStorage();
	}

	/** Deletes this device's copies of a customer's conversations, where there are any. */
	async #clearLocal(principal: string) {
		if (this.persistent) await clearLocalData(principal).catch(() => {});
	}

	get cached(): WidgetSession | null {
		try {
			const s = JSON.parse(
				this.#store.getItem(storageKey(this.slug)) ?? 'null'
			) as WidgetSession | null;
			return s && s.expiresAt > serverNow() ? s : null;
		} catch {
			return null;
		}
	}

	async start() {
		const cached = this.cached;
		if (!this.hostToken && !cached) {
			// An anonymous live visitor without a session yet: show the optional pre-chat form.
			const info = await this.#fetchInfo();
			if (info?.workstream) this.info = info.workstream;
			if (info?.workstream?.authRequired) {
				this.phase = { kind: 'needs-sign-in', message: 'Sign in on the site to chat with us.' };
				return;
			}
			if (info?.error) {
				this.phase = { kind: 'error', message: info.error.message };
				return;
			}
			const ws = info?.workstream;
			this.phase = ws && ws.mode === 'live' && !ws.open ? { kind: 'offline' } : { kind: 'prechat' };
			return;
		}
		await this.#open({});
	}

	#fetchInfo(): Promise<{
		workstream?: WidgetSession['workstream'];
		error?: { message: string };
	} | null> {
		return fetch(`/api/widget/workstreams/${encodeURIComponent(this.slug)}`)
			.then((r) => r.json())
			.catch(() => null);
	}

	/** The workstream's public settings when no session brought them (a refused sign-in). */
	async #loadInfo() {
		if (this.info) return;
		const info = await this.#fetchInfo();
		if (info?.workstream && !this.info) this.info = info.workstream;
	}

	/** Outside operating hours: leave a message with an email address (a ticket for later). */
	async leaveMessage(name: string, email: string, message: string) {
		this.offline = { busy: true, sentTo: null, errors: {} };
		try {
			const res = await fetch('/api/widget/offline-message', {
				method: 'POST',
				headers: { 'content-type': 'application/json' },
				body: JSON.stringify({
					workstream: this.slug,
					name: name.trim() || undefined,
					email,
					message
				})
			});
			const body = await res.json().catch(() => ({}));
			if (res.ok) this.offline = { busy: false, sentTo: email.trim(), errors: {} };
			else
				this.offline = {
					busy: false,
					sentTo: null,
					errors: body?.error?.fields ?? {
						_: body?.error?.message ?? `The message could not be sent (${res.status}).`
					}
				};
		} catch {
			this.offline = {
				busy: false,
				sentTo: null,
				errors: { _: 'You are offline. Your message is still here: send it when connected.' }
			};
		}
	}

	/**
	 * Waiting with nobody available: the address to reply to if the customer goes, once the
	 * server has it (from the session, which carries a pre-chat email too, or `leaveEmail`).
	 */
	replyTo = $state<{ busy: boolean; email: string | null; error: string | null }>({
		busy: false,
		email: null,
		error: null
	});

	async leaveEmail(email: string) {
		const session = this.session;
		if (!session) return;
		this.replyTo = { busy: true, email: null, error: null };
		const r = await this.#post(
			session,
			'/api/widget/email',
			{ email },
			{
				offline: 'You are offline: leaving your email needs a connection.',
				failed: 'The email could not be saved',
				field: 'email'
			}
		);
		this.replyTo = r.ok
			? { busy: false, email: r.body.email as string, error: null }
			: { busy: false, email: null, error: r.error };
	}

	async begin(name: string, email: string) {
		await this.#open({ name: name.trim() || undefined, email: email.trim() || undefined });
	}

	async #open(extra: { name?: string; email?: string }) {
		const cached = this.cached;
		let res: Response;
		const sent = Date.now();
		try {
			res = await fetch('/api/widget/session', {
				method: 'POST',
				headers: { 'content-type': 'application/json' },
				body: JSON.stringify({
					workstream: this.slug,
					hostToken: this.hostToken ?? undefined,
					resumeToken: this.hostToken ? undefined : cached?.sessionToken,
					...extra
				})
			});
		} catch {
			// Offline: carry on with what this device has.
			if (cached) return this.#chat(cached);
			this.phase = {
				kind: 'error',
				message: 'You are offline and this device has no chat yet. Try again when connected.'
			};
			return;
		}
		const body = await res.json().catch(() => ({}));
		if (!res.ok) {
			void this.#loadInfo(); // the title and colour, for the header and the host page
			const message = body?.error?.message ?? `The chat could not start (${res.status}).`;
			this.phase =
				res.status === 401 ? { kind: 'needs-sign-in', message } : { kind: 'error', message };
			return;
		}
		learnServerTime(body.now, sent);
		const session = body as WidgetSession;
		if (cached && cached.customer.principal !== session.customer.principal)
			await this.#clearLocal(cached.customer.principal);
		this.#store.setItem(storageKey(this.slug), JSON.stringify(session));
		this.#chat(session);
	}

	#chat(session: WidgetSession) {
		const before = this.chat;
		this.session = session;
		if (session.customer.email && !this.replyTo.email)
			this.replyTo = { busy: false, email: session.customer.email, error: null };
		const open = (conversationId: string) => this.#openSession(session, conversationId);
		const chat = open(session.conversationId);
		// The conversation just left stays on screen, read-only, above the new one.
		const previousId = session.previousConversationId ?? null;
		if (before && before.session.opts.conversationId === previousId) {
			this.previous?.destroy();
			this.previous = before;
		} else {
			before?.destroy();
			if (this.previous?.session.opts.conversationId !== previousId) {
				this.previous?.destroy();
				this.previous = previousId ? new ChatView(open(previousId)) : null;
			}
		}
		this.chat = new ChatView(chat);
		const olderIds = (session.earlierConversations ?? [])
			.filter((c) => c.id !== previousId && c.id !== session.conversationId)
			.reverse();
		// Views already opened stay open; those no longer listed close.
		const previouslyOlder = this.older;
		for (const o of previouslyOlder) if (!olderIds.some((c) => c.id === o.id)) o.view?.destroy();
		this.older = olderIds.map((c) => ({
			...c,
			view: previouslyOlder.find((o) => o.id === c.id)?.view ?? null
		}));
		this.#stopNetwork?.();
		this.#stopNetwork = followNetwork(
			() => chat.connect(),
			() => chat.disconnect()
		);
		if (!navigator.onLine) void chat.ready.then(() => chat.disconnect());
		this.phase = { kind: 'chat' };
	}

	/**
	 * Live chat only: the customer ends the chat (SPEC C5). Resolves to an error message, or
	 * null once it has ended.
	 */
	async endChat(): Promise<string | null> {
		const session = this.session;
		if (!session) return 'There is no chat to end.';
		const r = await this.#post(
			session,
			`/api/widget/conversations/${session.conversationId}/end`,
			undefined,
			{
				offline: 'You are offline: ending the chat needs a connection.',
				failed: 'The chat could not be ended'
			}
		);
		return r.ok ? null : r.error;
	}

	/** After a chat ended: a new conversation (the server opens one, with a new ticket). */
	async startNew() {
		await this.#open({});
	}

	/**
	 * The customer writes. Into an ended conversation (End session, a closed ticket: SPEC C7)
	 * that is not possible, so the message starts a new conversation, with a new ticket. Offline
	 * it is kept in this one's outbox; the server refuses it on reconnect and it moves then.
	 */
	async send(text: string): Promise<{ ok: true } | { ok: false; error: string }> {
		const chat = this.chat;
		if (!chat) return { ok: false, error: 'The chat is not open yet.' };
		if (chat.meta.status === 'ended' && navigator.onLine) {
			if (await this.#moveToNew([text])) return { ok: true };
		}
		return chat.session.send(text);
	}

	#moving = false;
	/** Messages the server refused as written into an ended conversation go to a new one. */
	async moveRefused() {
		const chat = this.chat;
		if (!chat || this.#moving) return;
		const refused = chat.session.refusedAsEnded;
		if (refused.length === 0) return;
		this.#moving = true;
		try {
			if (await this.#moveToNew(refused.map((r) => r.text)))
				// A one-off lookup handed to the session, not state.
				// eslint-disable-next-line svelte/prefer-svelte-reactivity
				chat.session.dropEntries(new Set(refused.map((r) => r.id)));
		} finally {
			this.#moving = false;
		}
	}

	async #moveToNew(texts: string[]): Promise<boolean> {
		const old = this.chat;
		await this.#open({});
		const next = this.chat;
		if (!next || next === old || this.phase.kind !== 'chat') return false;
		await next.session.ready;
		for (const t of texts) next.session.send(t);
		return true;
	}

	/** One of the session's conversations, as this customer, kept on the device if it may. */
	#openSession(session: WidgetSession, conversationId: string) {
		return new ChatSession({
			serverUrl: syncUrl(),
			conversationId,
			me: {
				principal: session.customer.principal,
				role: 'customer',
				name: session.customer.name
			},
			params: { token: session.sessionToken },
			persistence: this.persistent ? indexeddb : undefined,
			now: serverNow
		});
	}

	/** Loads an older conversation's history (when the customer opens it). */
	openOlder(conversationId: string) {
		const entry = this.older.find((o) => o.id === conversationId);
		if (!entry || entry.view || !this.session) return;
		entry.view = new ChatView(this.#openSession(this.session, conversationId));
	}

	/**
	 * POSTs to the widget API with the session's token: the reply's body, or what went wrong in
	 * words (`field`'s message, else the server's, else `failed` with the status).
	 */
	async #post(
		session: WidgetSession,
		path: string,
		body: unknown,
		words: { offline: string; failed: string; field?: string }
	): Promise<{ ok: true; body: Record<string, unknown> } | { ok: false; error: string }> {
		const res = await fetch(path, {
			method: 'POST',
			headers: {
				...(body === undefined ? {} : { 'content-type': 'application/json' }),
				authorization: `Bearer ${session.sessionToken}`
			},
			...(body === undefined ? {} : { body: JSON.stringify(body) })
		}).catch(() => null);
		if (!res) return { ok: false, error: words.offline };
		const reply = await res.json().catch(() => ({}));
		if (res.ok) return { ok: true, body: reply };
		return {
			ok: false,
			error:
				(words.field ? reply?.error?.fields?.[words.field] : undefined) ??
				reply?.error?.message ??
				`${words.failed} (${res.status}).`
		};
	}

	/** Answers a CSAT survey (SPEC C8) of the current, the previous or an older conversation. */
	async rate(conversationId: string, rating: number, comment: string): Promise<string | null> {
		const session = this.session;
		if (!session) return 'The chat is not open.';
		const r = await this.#post(
			session,
			`/api/widget/conversations/${conversationId}/csat`,
			{ rating, comment: comment.trim() || undefined },
			{
				offline: 'You are offline: sending the rating needs a connection.',
				failed: 'The rating could not be sent',
				field: 'rating'
			}
		);
		return r.ok ? null : r.error;
	}

	/** The host site's logout: forget this customer on this device. */
	async logout() {
		const principal = this.session?.customer.principal ?? this.cached?.customer.principal;
		const unsent = this.chat?.pendingCount ?? 0;
		this.chat?.destroy();
		this.chat = null;
		this.previous?.destroy();
		this.previous = null;
		for (const o of this.older) o.view?.destroy();
		this.older = [];
		this.session = null;
		this.#stopNetwork?.();
		this.#store.removeItem(storageKey(this.slug));
		if (principal) await this.#clearLocal(principal);
		this.hostToken = null;
		this.phase = { kind: 'signed-out', unsent };
	}

	setHostToken(token: string) {
		this.hostToken = token;
		void this.#open({});
	}

	destroy() {
		this.#stopNetwork?.();
		this.chat?.destroy();
		this.previous?.destroy();
		for (const o of this.older) o.view?.destroy();
	}
}
