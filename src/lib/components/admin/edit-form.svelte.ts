/**
 * One add-or-edit form of a console list page (templates, triggers, webhooks, queues): the row
 * being edited, the server's refusals, the pending flag and the page's status line. Focus moves
 * the way keyboard users expect: into the form when it opens, and back to the row's Edit button
 * (`edit-<id>`) or the page's New button when it closes.
 */
import { tick } from 'svelte';
import { api, type ApiResult } from './api';
import { trackUnsaved } from './unsaved.svelte';

const focusOn = (id: string) => document.getElementById(id)?.focus();

export class EditForm<T extends { id: string | null }> {
	/** What is being edited; null while the form is closed. */
	value = $state<T | null>(null);
	/** Field path → the server's message for it. */
	fields = $state<Record<string, string>>({});
	/** The server's refusal in words, for the error summary. */
	message = $state<string | null>(null);
	busy = $state(false);
	/** The last thing done ("Template “X” saved."), for a role="status" line. */
	said = $state('');

	/** The open form's changes not saved yet (asked about before leaving the page). */
	#unsaved = trackUnsaved(() => this.value);

	constructor(
		private readonly opts: {
			/** The collection's API path, e.g. `/api/admin/templates`. */
			path: string;
			/** The id of the page's New button. */
			newButton: string;
			/** The id of the form's first field. */
			firstField: string;
			/** Reads the page's list again. */
			reload: () => Promise<void>;
		}
	) {}

	async open(value: T) {
		this.fields = {};
		this.message = null;
		this.said = '';
		this.value = value;
		this.#unsaved.mark();
		await tick();
		focusOn(this.opts.firstField);
	}

	async close() {
		const id = this.value?.id;
		this.value = null;
		await tick();
		focusOn(id ? `edit-${id}` : this.opts.newButton);
	}

	/**
	 * PUT (an existing row) or POST (a new one) `body`. Refused: the fields and message are set
	 * and the form stays open. Done: `said(created)` becomes the status, the list is read again
	 * and the form closes. Null when nothing was sent (no form, or a save under way).
	 */
	async save<R = Record<string, unknown>>(
		body: unknown,
		said: (created: boolean) => string
	): Promise<ApiResult<R> | null> {
		if (!this.value || this.busy) return null;
		const id = this.value.id;
		this.busy = true;
		const r = id
			? await api<R>('PUT', `${this.opts.path}/${id}`, body)
			: await api<R>('POST', this.opts.path, body);
		this.busy = false;
		if (!r.ok) {
			this.fields = r.fields;
			this.message = r.message;
			return r;
		}
		this.said = said(id === null);
		await this.opts.reload();
		await this.close();
		return r;
	}

	/** DELETE one row: an error message for the confirmation dialog, or null when done. */
	async remove(id: string, said: string): Promise<string | null> {
		const r = await api('DELETE', `${this.opts.path}/${id}`);
		if (!r.ok) return r.message;
		if (this.value?.id === id) this.value = null;
		await this.opts.reload();
		this.said = said;
		await tick();
		focusOn(this.opts.newButton);
		return null;
	}
}
