/**
 * Email (SPEC P4): public replies after a session ended, the offline "leave a message"
 * confirmation and CSAT surveys. Every mail is first stored in `mail_outbox` (the admin's
 * /admin/outbox list); with SMTP configured (SMTP_URL) a durable timer then sends it with
 * nodemailer, on whichever instance claims it, retrying with backoff. Without SMTP the stored
 * row is the delivery: status `local`.
 */
import nodemailer, { type Transporter } from 'nodemailer';
import type { Logger } from 'pino';
import type { Clock } from './clock';
import type { Db } from './repo';
import { newId } from './repo';
import type { Timers } from './timers';

type MailKind = 'reply' | 'offline_confirmation' | 'csat' | 'invitation';

export interface Mail {
	kind: MailKind;
	conversationId: string | null;
	to: string;
	subject: string;
	body: string;
}

export interface MailerOptions {
	db: Db;
	timers: Timers;
	clock: Clock;
	log: Logger;
	/** nodemailer connection URL; unset keeps mail in the local outbox. */
	smtpUrl?: string;
	from: string;
}

/** Attempts before a mail is marked failed, and the wait before each retry (domain time). */
const MAIL_RETRY_DELAYS_MS = [10_000, 60_000, 5 * 60_000, 30 * 60_000];

export class Mailer {
	readonly #transport: Transporter | null;

	constructor(private readonly opts: MailerOptions) {
		this.#transport = opts.smtpUrl ? nodemailer.createTransport(opts.smtpUrl) : null;
		opts.timers.on('mail-send', (payload) => this.#deliver((payload as { mailId: string }).mailId));
	}

	get smtp() {
		return this.#transport !== null;
	}

	/** Stores the mail and, with SMTP, schedules its delivery at once. Returns its id. */
	async queue(mail: Mail): Promise<string> {
		const { db, clock, timers } = this.opts;
		const id = newId('ml');
		const now = clock.now();
		// One transaction: a queued mail is never visible without the timer that sends it.
		await db.transaction().execute(async (trx) => {
			await trx
				.insertInto('mail_outbox')
				.values({
					id,
					kind: mail.kind,
					conversation_id: mail.conversationId,
					to_address: mail.to,
					subject: mail.subject,
					body: mail.body,
					status: this.#transport ? 'queued' : 'local',
					attempts: 0,
					error: null,
					message_id: null,
					created_at: now,
					sent_at: this.#transport ? null : now
				})
				.execute();
			if (this.#transport) await timers.set(`mail:${id}`, 'mail-send', now, { mailId: id }, trx);
		});
		this.opts.log.info({ mail: id, kind: mail.kind, smtp: this.smtp }, 'mail queued');
		return id;
	}

	/** The newest mails first (the admin outbox). */
	list(limit = 100) {
		return this.opts.db
			.selectFrom('mail_outbox')
			.selectAll()
			.orderBy('created_at', 'desc')
			.orderBy('id', 'desc')
			.limit(limit)
			.execute();
	}

	/** Sends one queued mail; on failure schedules the next attempt or gives up. Idempotent. */
	async #deliver(mailId: string) {
		const { db, clock, timers, log } = this.opts;
		const row = await db
			.selectFrom('mail_outbox')
			.selectAll()
			.where('id', '=', mailId)
			.executeTakeFirst();
		if (!row || row.status !== 'queued' || !this.#transport) return;
		const attempts = row.attempts + 1;
		try {
			const info = await this.#transport.sendMail({
				from: this.opts.from,
				to: row.to_address,
				subject: row.subject,
				text: row.body,
				headers: { 'X-Parley-Mail': row.id }
			});
			await db
				.updateTable('mail_outbox')
				.set({
					status: 'sent',
					attempts,
					sent_at: clock.now(),
					message_id: info.messageId ?? null,
					error: null
				})
				.where('id', '=', mailId)
				.execute();
			log.info({ mail: mailId, attempts }, 'mail sent');
		} catch (err) {
			const delay = MAIL_RETRY_DELAYS_MS[attempts - 1];
			const error = err instanceof Error ? err.message : String(err);
			await db
				.updateTable('mail_outbox')
				.set({ attempts, error, status: delay === undefined ? 'failed' : 'queued' })
				.where('id', '=', mailId)
				.execute();
			if (delay !== undefined)
				await timers.set(`mail:${mailId}`, 'mail-send', clock.now() + delay, { mailId });
			log.warn({ mail: mailId, attempts, err: error }, 'mail not sent');
		}
	}

	close() {
		this.#transport?.close();
	}
}
