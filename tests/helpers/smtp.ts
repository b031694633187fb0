/**
 * A real SMTP server in the test process (the `smtp-server` package) that keeps what it
 * receives, so tests check mail exactly as a mail server got it from nodemailer.
 */
import { SMTPServer } from 'smtp-server';
import type { AddressInfo } from 'node:net';

export interface ReceivedMail {
	from: string;
	to: string[];
	subject: string;
	text: string;
	raw: string;
}

export async function startSmtp() {
	const received: ReceivedMail[] = [];
	let refuse = 0;
	const server = new SMTPServer({
		authOptional: true,
		disabledCommands: ['STARTTLS', 'AUTH'],
		logger: false,
		onData(stream, session, callback) {
			const chunks: Buffer[] = [];
			stream.on('data', (c: Buffer) => chunks.push(c));
			stream.on('end', () => {
				if (refuse > 0) {
					refuse--;
					const err = new Error('Mailbox busy, try later') as Error & { responseCode: number };
					err.responseCode = 451;
					return callback(err);
				}
				const raw = Buffer.concat(chunks).toString('utf8');
				received.push({
					from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
					to: session.envelope.rcptTo.map((r) => r.address),
					...parseMail(raw),
					raw
				});
				callback();
			});
		}
	});
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	const port = (server.server.address() as AddressInfo).port;
	return {
		url: `smtp://127.0.0.1:${port}`,
		received,
		/** The next `n` deliveries are refused with a temporary error (451). */
		refuseNext(n: number) {
			refuse = n;
		},
		close: () => new Promise<void>((resolve) => server.close(() => resolve()))
	};
}

/** Just enough MIME for nodemailer's plain-text mails: the subject and the decoded body. */
function parseMail(raw: string): { subject: string; text: string } {
	const split = raw.indexOf('\r\n\r\n');
	const head = raw.slice(0, split).replace(/\r\n[ \t]+/g, ' ');
	const body = raw.slice(split + 4);
	const header = (name: string) =>
		new RegExp(`^${name}:\\s*(.*)$`, 'im').exec(head)?.[1].trim() ?? '';
	const subject = header('Subject').replace(
		/=\?utf-8\?([QB])\?([^?]*)\?=\s*/gi,
		(_, enc: string, data: string) =>
			enc.toUpperCase() === 'B'
				? Buffer.from(data, 'base64').toString('utf8')
				: qp(data.replace(/_/g, ' '))
	);
	const encoding = header('Content-Transfer-Encoding').toLowerCase();
	const text =
		encoding === 'quoted-printable'
			? qp(body.replace(/=\r\n/g, ''))
			: encoding === 'base64'
				? Buffer.from(body, 'base64').toString('utf8')
				: body;
	return { subject, text: text.replace(/\r\n/g, '\n').trimEnd() };
}

function qp(s: string): string {
	const bytes: number[] = [];
	for (let i = 0; i < s.length; i++) {
		if (s[i] === '=' && /^[0-9A-F]{2}$/i.test(s.slice(i + 1, i + 3))) {
			bytes.push(parseInt(s.slice(i + 1, i + 3), 16));
			i += 2;
		} else bytes.push(...Buffer.from(s[i], 'utf8'));
	}
	return Buffer.from(bytes).toString('utf8');
}
