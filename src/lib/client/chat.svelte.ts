/** Reactive (runes) view of a ChatSession for Svelte components. */
import type { ChatSession } from './chat-session';

export class ChatView {
	#version = $state(0);
	#off: () => void;

	constructor(readonly session: ChatSession) {
		this.#off = session.onChange(() => this.#version++);
	}

	#read<T>(fn: () => T): T {
		void this.#version;
		return fn();
	}

	get transcript() {
		return this.#read(() => this.session.transcript);
	}
	get typing() {
		return this.#read(() => this.session.typing);
	}
	get connection() {
		return this.#read(() => this.session.connection);
	}
	get closedReason() {
		return this.#read(() => this.session.closedReason);
	}
	get diverged() {
		return this.#read(() => this.session.diverged);
	}
	get transcriptLoaded() {
		return this.#read(() => this.session.transcriptLoaded);
	}
	get meta() {
		return this.#read(() => this.session.meta);
	}
	get pendingCount() {
		return this.#read(() => this.session.pendingCount);
	}
	get unread() {
		return this.#read(() => this.session.unread);
	}
	get lastActivity() {
		return this.#read(() => this.session.lastActivity);
	}

	/** Marks the transcript as seen if the page is visible (drives the others' *read* marks). */
	markSeenIfVisible() {
		if (document.visibilityState === 'visible') this.session.markSeen();
	}

	destroy() {
		this.#off();
		this.session.destroy();
	}
}
