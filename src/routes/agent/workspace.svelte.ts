/**
 * The agent workspace's state: sign-in, presence, the inbox document (offers and accepted
 * conversations, written by the server), and one ChatSession per open conversation.
 */
import * as Y from 'yjs';
import { WebsocketProvider } from 'y-websocket';
import { ChatSession, readNotice } from '$lib/client/chat-session';
import { MessageType } from '$lib/domain/protocol';
import { ChatView } from '$lib/client/chat.svelte';
import { clearLocalData, followNetwork, indexeddb, syncUrl } from '$lib/client/persistence';
import { clearDrafts } from '$lib/client/drafts';
import { learnServerTime, serverNow } from '$lib/client/server-clock';
import {
	offersOf,
	offerTitle,
	inboxConversationsOf,
	agentStateOf,
	type OfferView,
	type InboxConversation
} from '$lib/domain/inbox-doc';
import type { LocalPersistence } from '$lib/client/chat-session';
import type { PresenceChoice } from '$lib/domain/presence';
import { messagesOf } from '$lib/domain/conversation-doc';
import type { ConversationDetails } from '$lib/domain/events';
import type { Template } from '$lib/domain/template';
import {
	notificationPermission,
	notify,
	playTone,
	setSoundPreference,
	soundPreference
} from '$lib/client/alerts';

export interface InboxItem extends InboxConversation {
	unread: number;
	/** The newest message's time, or when it was accepted. */
	lastActivity: number;
}

export interface Me {
	id: string;
	principal: string;
	email: string;
	name: string;
	role: string;
	capacity: number;
	presence: string;
	/** The password is one an admin set: the workspace asks for a new one first. */
	mustChangePassword?: boolean;
}

async function call<T>(
	path: string,
	body?: unknown
): Promise<{ ok: boolean; status: number; data: T & { error?: { message: string } } }> {
	const sent = Date.now();
	const res = await fetch(path, {
		method: body === undefined ? 'GET' : 'POST',
		headers: body === undefined ? {} : { 'content-type': 'application/json' },
		body: body === undefined ? undefined : JSON.stringify(body)
	});
	const data = await res
		.json()
		.catch(() => ({ error: { message: `Request failed (${res.status})` } }));
	learnServerTime(data?.now, sent);
	return { ok: res.ok, status: res.status, data };
}

/**
 * The signed-in agent, kept on this device so that the workspace opens offline (a reload, a new
 * tab) on the conversations the device holds. Nothing secret: the session itself is an httpOnly
 * cookie, and the server checks it again on every connection. Forgotten on sign-out.
 */
const ME_KEY = 'parley:agent:me';

function keptMe(): Me | null {
	try {
		const me = JSON.parse(localStorage.getItem(ME_KEY) ?? 'null') as Me | null;
		return me && typeof me.principal === 'string' ? me : null;
	} catch {
		return null;
	}
}

function keepMe(me: Me | null) {
	try {
		if (me) localStorage.setItem(ME_KEY, JSON.stringify(me));
		else localStorage.removeItem(ME_KEY);
	} catch {
		// Storage denied: the workspace then needs the network to open, as before.
	}
}

export class Workspace {
	phase = $state<'loading' | 'login' | 'ready' | 'unreachable'>('loading');
	me = $state<Me | null>(null);
	error = $state<string | null>(null);
	selectedId = $state<string | null>(null);
	/** Why the open conversation went away when the server took it off the list: transferred. */
	gone = $state('');
	inboxStatus = $state<'connecting' | 'connected' | 'offline' | 'closed'>('connecting');
	#version = $state(0);
	#inbox: { doc: Y.Doc; provider: WebsocketProvider; local: LocalPersistence } | null = null;
	// Caches of open sessions, not state: each ChatView is reactive on its own.
	// eslint-disable-next-line svelte/prefer-svelte-reactivity
	#chats = new Map<string, ChatView>();
	// eslint-disable-next-line svelte/prefer-svelte-reactivity
	#previews = new Map<string, ChatView>();
	#stopNetwork: (() => void) | null = null;
	/** Offers already announced, and per conversation the messages already counted. */
	// eslint-disable-next-line svelte/prefer-svelte-reactivity
	#announcedOffers = new Set<string>();
	// eslint-disable-next-line svelte/prefer-svelte-reactivity
	#heard = new Map<string, number>();
	#inboxLoaded = false;
	soundOn = $state(soundPreference());
	notifications = $state(notificationPermission());

	async start() {
		let r;
		try {
			r = await call<{ agent: Me }>('/api/agent/me');
		} catch {
			// Offline (or the server is down): open on what this device keeps, if anything. The
			// sockets then authenticate when the network is back, or send the agent to sign in.
			const kept = keptMe();
			if (kept) this.#ready(kept);
			else this.phase = 'unreachable';
			return;
		}
		if (!r.ok) {
			if (r.status === 401) keepMe(null);
			this.phase = 'login';
			return;
		}
		this.#ready(r.data.agent);
	}

	async login(email: string, password: string) {
		this.error = null;
		try {
			const r = await call<{ agent: Me }>('/api/auth/login', { email, password });
			if (!r.ok) {
				this.error = r.data.error?.message ?? 'Could not sign in.';
				return;
			}
			this.#ready(r.data.agent);
		} catch {
			this.error = 'The server cannot be reached. Check your connection and try again.';
		}
	}

	#ready(me: Me) {
		// Signing in again after the session expired: the old connections are closed already.
		if (this.#inbox) this.destroy();
		keepMe(me);
		this.me = me;
		this.phase = 'ready';
		this.#openInbox(me);
		this.#stopNetwork = followNetwork(
			() => this.#eachConnection((c) => c.connect()),
			() => {
				this.inboxStatus = 'offline';
				this.#eachConnection((c) => c.disconnect());
			}
		);
		if (!navigator.onLine) {
			this.inboxStatus = 'offline';
			this.#eachConnection((c) => c.disconnect());
		}
	}

	#openInbox(me: Me) {
		const doc = new Y.Doc();
		const local = indexeddb(`parley/${me.principal}/inbox`, doc);
		const provider = new WebsocketProvider(syncUrl(), 'inbox', doc, {
			disableBc: true,
			maxBackoffTime: 5000
		});
		provider.awareness.setLocalState(null);
		// The server holds less than this device's copy: its store was restored from a backup.
		// The inbox is the server's alone (nothing in it waits to be sent), so start it afresh.
		provider.messageHandlers[MessageType.parley] = (_encoder, decoder) => {
			if (readNotice(decoder)?.type === 'diverged') void this.#resetInbox(me);
		};
		provider.on('status', ({ status }: { status: string }) => {
			this.inboxStatus =
				status === 'connected' ? 'connected' : navigator.onLine ? 'connecting' : 'offline';
		});
		provider.on('closed', ({ code, reason }: { code: number; reason?: string }) => {
			this.inboxStatus = 'closed';
			if (code === 4401) {
				// Session over (expired, password reset, signed out elsewhere): sign in again, and
				// say why. Local data stays.
				this.error =
					reason === 'password reset'
						? 'An admin reset your password: sign in with the new one.'
						: reason === 'account disabled'
							? 'An admin disabled your account.'
							: 'You were signed out. Sign in again.';
				this.phase = 'login';
			}
		});
		doc.on('update', () => {
			this.#version++;
			this.#followInbox();
		});
		this.#inbox = { doc, provider, local };
		// What this device already had is not news.
		void local.whenSynced.then(() => {
			for (const id of offersOf(doc).keys()) this.#announcedOffers.add(id);
			this.#inboxLoaded = true;
			this.#followInbox();
		});
	}

	async #resetInbox(me: Me) {
		const inbox = this.#inbox;
		if (!inbox || this.me !== me) return;
		this.#inbox = null;
		inbox.provider.destroy();
		await inbox.local.clearData?.();
		inbox.doc.destroy();
		if (this.me === me && this.#inbox === null) this.#openInbox(me);
	}

	#eachConnection(fn: (c: { connect(): void; disconnect(): void }) => void) {
		if (this.#inbox) fn(this.#inbox.provider);
		for (const c of this.#chats.values()) fn(c.session);
		for (const c of this.#previews.values()) fn(c.session);
	}

	get presence(): string {
		void this.#version;
		return (
			(this.#inbox && (agentStateOf(this.#inbox.doc).get('presence') as string | undefined)) ??
			this.me?.presence ??
			'Offline'
		);
	}

	/** Why the server set the presence, if it did (`disconnected`: see presenceHint). */
	get presenceReason(): string | undefined {
		void this.#version;
		return this.#inbox
			? (agentStateOf(this.#inbox.doc).get('presenceReason') as string | undefined)
			: undefined;
	}

	get offers(): OfferView[] {
		void this.#version;
		if (!this.#inbox) return [];
		return [...offersOf(this.#inbox.doc).values()].sort((a, b) => a.offeredAt - b.offeredAt);
	}

	/**
	 * Messages and notes written on this device that the server has not stored yet, across the
	 * held conversations: signing out now would delete them with the device's copy.
	 */
	get unsent(): number {
		void this.#version;
		let n = 0;
		for (const view of this.#chats.values()) n += view.pendingCount;
		return n;
	}

	/** Held conversations, newest activity first, with unread counts. */
	get conversations(): InboxItem[] {
		void this.#version;
		if (!this.#inbox) return [];
		return [...inboxConversationsOf(this.#inbox.doc).values()]
			.map((c) => {
				const view = this.#chats.get(c.conversationId);
				return {
					...c,
					unread: view?.unread ?? 0,
					lastActivity: Math.max(view?.lastActivity ?? 0, c.acceptedAt)
				};
			})
			.sort((a, b) => b.lastActivity - a.lastActivity);
	}

	/**
	 * Chats that count toward capacity, as routing counts them (server/routing.ts
	 * `availableAgents`): held conversations that are active or being transferred, and offers.
	 */
	get load(): number {
		void this.#version;
		if (!this.#inbox) return 0;
		let load = this.offers.length;
		for (const c of inboxConversationsOf(this.#inbox.doc).values()) {
			if (c.left) continue;
			// Until its document loads (just accepted, or offline), a held conversation counts
			// unless its session ended: so the count does not dip while it connects.
			const status = this.#chats.get(c.conversationId)?.meta.status;
			if (
				status === undefined
					? !c.sessionEnded
					: status === 'active' || status === 'queued' || status === 'offered'
			)
				load++;
		}
		return load;
	}

	/**
	 * Keeps one session per held conversation (for unread counts and alerts), closes those the
	 * server took away (handed to another agent), and announces new offers.
	 */
	#followInbox() {
		if (!this.#inbox) return;
		const held = inboxConversationsOf(this.#inbox.doc);
		for (const id of held.keys()) if (!this.#chats.has(id)) this.#watch(id);
		for (const [id, view] of this.#chats)
			if (!held.has(id)) {
				if (this.selectedId === id) {
					// Transferred (it was being routed while still ours): someone accepted it. Other
					// removals follow this agent's own action (End, Waiting, Close), which says so.
					const { customerName, status } = view.meta;
					if (status === 'queued' || status === 'offered')
						this.gone = `${customerName ?? 'The customer'}’s conversation was accepted by another agent.`;
					this.selectedId = null;
				}
				view.destroy();
				this.#chats.delete(id);
			}
		const offers = offersOf(this.#inbox.doc);
		for (const [id, view] of this.#previews)
			if (!offers.has(id)) {
				view.destroy();
				this.#previews.delete(id);
			}
		if (!this.#inboxLoaded) return;
		let fresh = false;
		for (const offer of offers.values())
			if (!this.#announcedOffers.has(offer.offerId)) {
				this.#announcedOffers.add(offer.offerId);
				fresh = true;
				this.#alert(offerTitle(offer), offer.queue, offer.offerId);
			}
		// The offer's countdown runs on the server's clock: check how far this device's is off
		// (it may have drifted, or slept, since sign-in).
		if (fresh) void call('/api/agent/me').catch(() => undefined);
	}

	#watch(conversationId: string) {
		const view = this.chat(conversationId);
		void view.session.ready.then(() => {
			const count = () => messagesOf(view.session.conversation).length;
			// What the first sync brings was there before: the offer showed it. Only later
			// messages are news (an agent who accepts and switches tabs is not told of the first).
			const provider = view.session.conversationProvider;
			let baseline = provider.synced;
			this.#heard.set(conversationId, count());
			if (!baseline) {
				const onSync = (synced: boolean) => {
					if (!synced) return;
					baseline = true;
					this.#heard.set(conversationId, count());
					provider.off('sync', onSync);
				};
				provider.on('sync', onSync);
			}
			view.session.onChange(() => {
				if (!baseline) return;
				const messages = messagesOf(view.session.conversation);
				const before = this.#heard.get(conversationId) ?? messages.length;
				this.#heard.set(conversationId, messages.length);
				for (let i = before; i < messages.length; i++) {
					const m = messages.get(i);
					if (m.role === 'customer' && !(this.selectedId === conversationId && !document.hidden))
						this.#alert(`${m.name} wrote`, m.text.slice(0, 140), conversationId, () => {
							this.selectedId = conversationId;
						});
				}
			});
		});
	}

	/** Only while the tab is in the background: in front, the page itself shows it. */
	#alert(title: string, body: string, tag: string, onClick?: () => void) {
		if (!document.hidden) return;
		notify(title, body, tag, onClick);
		if (this.soundOn) playTone();
	}

	toggleSound() {
		this.soundOn = !this.soundOn;
		setSoundPreference(this.soundOn);
	}

	async enableNotifications() {
		if (notificationPermission() === 'unsupported') return;
		this.notifications = await Notification.requestPermission();
	}

	async transferTargets() {
		const r = await call<{
			queues: { id: string; name: string }[];
			agents: { id: string; name: string; load: number; capacity: number }[];
		}>('/api/agent/transfer-targets').catch(() => null);
		if (!r) return { error: 'You are offline: the lists need a connection.' };
		if (!r.ok) return { error: r.data.error?.message ?? 'Could not load the lists.' };
		return r.data;
	}

	/** Resolves to an error message, or null once the transfer is under way. */
	async transfer(
		conversationId: string,
		target: { queueId: string } | { agentId: string }
	): Promise<string | null> {
		const r = await call(`/api/agent/conversations/${conversationId}/transfer`, target).catch(
			() => null
		);
		if (!r) return 'You are offline: transferring needs a connection.';
		if (!r.ok) return r.data.error?.message ?? 'Could not transfer.';
		return null;
	}

	/** The side panel's data: customer, ticket, history. */
	async details(conversationId: string): Promise<ConversationDetails | { error: string }> {
		const r = await call<ConversationDetails>(`/api/agent/conversations/${conversationId}`).catch(
			() => null
		);
		if (!r) return { error: 'You are offline: details need a connection.' };
		if (!r.ok) return { error: r.data.error?.message ?? 'Could not load the details.' };
		return r.data;
	}

	/**
	 * A conversation action (conference, end-conference, wait, take-back, end, dismiss, end-session, status,
	 * email). Resolves to an error message, or null when the server did it.
	 */
	async act(
		conversationId: string,
		action:
			| 'conference'
			| 'end-conference'
			| 'wait'
			| 'take-back'
			| 'end'
			| 'dismiss'
			| 'end-session'
			| 'status'
			| 'email',
		body: Record<string, string> = {}
	): Promise<string | null> {
		const r = await call(`/api/agent/conversations/${conversationId}/${action}`, body).catch(
			() => null
		);
		if (!r) return 'You are offline: this needs a connection. Nothing was changed.';
		if (!r.ok) return r.data.error?.message ?? 'That did not work. Try again.';
		if (action === 'dismiss' && this.selectedId === conversationId) this.selectedId = null;
		return null;
	}

	#templates: Template[] | null = null;
	async templates(): Promise<Template[] | { error: string }> {
		const r = await call<{ templates: Template[] }>('/api/agent/templates').catch(() => null);
		// Offline: the list loaded earlier still works.
		if (!r) return this.#templates ?? { error: 'You are offline: templates need a connection.' };
		if (!r.ok) return { error: r.data.error?.message ?? 'Could not load the templates.' };
		this.#templates = r.data.templates;
		return r.data.templates;
	}

	async decline(offer: OfferView) {
		const r = await call(`/api/agent/offers/${offer.offerId}/decline`, {}).catch(() => null);
		if (!r) {
			this.error = 'You are offline: declining needs a connection.';
			return;
		}
		if (!r.ok && r.status !== 409) {
			this.error = r.data.error?.message ?? 'Could not decline.';
			return;
		}
		this.#previews.get(offer.offerId)?.destroy();
		this.#previews.delete(offer.offerId);
		this.error = null;
	}

	async setPresence(presence: PresenceChoice) {
		const r = await call('/api/agent/presence', { presence }).catch(() => null);
		if (!r) this.error = 'You are offline: presence changes need a connection.';
		else if (!r.ok) this.error = r.data.error?.message ?? 'Could not change presence.';
		else this.error = null;
	}

	#session(conversationId: string, readOnly: boolean): ChatView {
		const me = this.me!;
		return new ChatView(
			new ChatSession({
				serverUrl: syncUrl(),
				conversationId,
				me: { principal: me.principal, role: 'agent', name: me.name },
				persistence: readOnly ? undefined : indexeddb,
				readOnly,
				internal: !readOnly,
				// Offline, it waits for the network to come back (followNetwork connects it).
				connect: navigator.onLine,
				now: serverNow
			})
		);
	}

	/** The thread so far, for an offer's popover. */
	preview(offer: OfferView): ChatView {
		let v = this.#previews.get(offer.offerId);
		if (!v) {
			v = this.#session(offer.conversationId, true);
			this.#previews.set(offer.offerId, v);
		}
		return v;
	}

	chat(conversationId: string): ChatView {
		let v = this.#chats.get(conversationId);
		if (!v) {
			v = this.#session(conversationId, false);
			this.#chats.set(conversationId, v);
		}
		return v;
	}

	async accept(offer: OfferView) {
		const r = await call<{ conversationId: string }>(
			`/api/agent/offers/${offer.offerId}/accept`,
			{}
		).catch(() => null);
		if (!r) {
			this.error = 'You are offline: accepting needs a connection.';
			return;
		}
		if (!r.ok) {
			this.error = r.data.error?.message ?? 'Could not accept.';
			return;
		}
		this.#previews.get(offer.offerId)?.destroy();
		this.#previews.delete(offer.offerId);
		this.error = null;
		this.selectedId = r.data.conversationId;
	}

	/** Resolves to field errors or a message, or null once the password is changed. */
	async changePassword(
		current: string,
		next: string
	): Promise<{ fields?: Record<string, string>; message?: string } | null> {
		const r = await call<{ error?: { message: string; fields?: Record<string, string> } }>(
			'/api/agent/password',
			{ current, next }
		).catch(() => null);
		if (!r) return { message: 'You are offline: changing the password needs a connection.' };
		if (!r.ok) return { fields: r.data.error?.fields, message: r.data.error?.message };
		if (this.me) {
			this.me = { ...this.me, mustChangePassword: false };
			keepMe(this.me);
		}
		return null;
	}

	/**
	 * Ends the session on the server, then forgets this device's copy. Offline it does neither and
	 * says why (the session cookie is httpOnly: only the server can end it, and a device that
	 * only forgot its copy would be signed in again on the next visit). Resolves to that message,
	 * or null once signed out.
	 */
	async signOut(): Promise<string | null> {
		const principal = this.me?.principal;
		const r = await call('/api/auth/logout', {}).catch(() => null);
		if (!r || r.status >= 500) {
			const message =
				'You are offline: signing out needs the server, which ends this device’s session there too. Try again once connected.';
			this.error = message;
			return message;
		}
		this.error = null;
		this.destroy();
		if (principal) await clearLocalData(principal);
		clearDrafts();
		keepMe(null);
		this.me = null;
		this.selectedId = null;
		this.phase = 'login';
		return null;
	}

	destroy() {
		this.#stopNetwork?.();
		for (const v of [...this.#chats.values(), ...this.#previews.values()]) v.destroy();
		this.#chats.clear();
		this.#previews.clear();
		if (this.#inbox) {
			this.#inbox.provider.destroy();
			this.#inbox.local.destroy();
			this.#inbox.doc.destroy();
			this.#inbox = null;
		}
	}
}
