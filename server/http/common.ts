/**
 * What every HTTP route module shares: the error type and its JSON shape
 * (`{ error: { code, message, fields? } }`), body parsing with zod, and the same-origin check.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { fieldErrors } from '../../src/lib/domain/workstream-settings';

export class HttpError extends Error {
	constructor(
		readonly status: number,
		readonly code: string,
		message: string,
		readonly fields?: Record<string, string>
	) {
		super(message);
	}
}

export type Handler = (
	req: IncomingMessage,
	res: ServerResponse,
	params: string[]
) => Promise<unknown>;
/** Method, path pattern (its groups are the params), handler. */
export type Route = [string, RegExp, Handler];

const MAX_BODY_BYTES = 64 * 1024;

/** A password an agent or an admin chooses. */
export const PASSWORD = z
	.string()
	.min(8, 'Use at least 8 characters.')
	.max(200, 'Keep the password under 200 characters.');

export function invalid(fields: Record<string, string>): HttpError {
	return new HttpError(400, 'invalid_input', 'Some fields are not valid.', fields);
}

export function parse<T>(schema: z.ZodType<T, unknown>, value: unknown): T {
	const r = schema.safeParse(value);
	if (r.success) return r.data;
	throw invalid(fieldErrors(r.error));
}

export async function readJson(req: IncomingMessage): Promise<unknown> {
	if (!(req.headers['content-type'] ?? '').startsWith('application/json'))
		throw new HttpError(
			415,
			'unsupported_media_type',
			'Send JSON (Content-Type: application/json).'
		);
	const chunks: Buffer[] = [];
	let size = 0;
	for await (const chunk of req) {
		size += (chunk as Buffer).length;
		if (size > MAX_BODY_BYTES)
			throw new HttpError(413, 'too_large', `Body over ${MAX_BODY_BYTES} bytes.`);
		chunks.push(chunk as Buffer);
	}
	try {
		return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
	} catch {
		throw new HttpError(400, 'invalid_json', 'The body is not valid JSON.');
	}
}

/** Cookie-authenticated writes must come from our own origin (SameSite=Lax covers the rest). */
export function checkCsrf(req: IncomingMessage) {
	if (!sameOrigin(req))
		throw new HttpError(403, 'cross_origin', 'Cross-origin requests are not allowed here.');
}

/** True when the request has no Origin header or one whose host is ours (`null` is foreign). */
export function sameOrigin(req: IncomingMessage): boolean {
	const origin = req.headers.origin;
	if (!origin) return true;
	try {
		return new URL(origin).host === req.headers.host;
	} catch {
		return false;
	}
}

export function sendJson(res: ServerResponse, status: number, body: unknown) {
	const text = JSON.stringify(body);
	res.writeHead(status, {
		'content-type': 'application/json; charset=utf-8',
		'cache-control': 'no-store'
	});
	res.end(text);
}

/** The query string of a request as an object (repeated keys: the last wins). */
export function queryOf(req: IncomingMessage): Record<string, string> {
	const url = new URL(req.url ?? '/', 'http://x');
	return Object.fromEntries(url.searchParams.entries());
}
