/**
 * Customer tokens (jose, HS256).
 *
 * - A *host token* is signed by the host site with the workstream's secret and vouches for an
 *   authenticated customer: `sub` (the host's customer id), `name`, optional `email`, `exp`.
 * - A *widget session token* is issued by Parley after checking the host token (or for an
 *   anonymous visitor) and authenticates the widget's websockets.
 */
import { SignJWT, jwtVerify, errors } from 'jose';
import { z } from 'zod';

const enc = new TextEncoder();

export const HostClaimsSchema = z.object({
	sub: z.string().min(1).max(200),
	name: z.string().min(1).max(200).optional(),
	email: z.string().email().max(320).optional(),
	exp: z.number()
});
export type HostClaims = z.infer<typeof HostClaimsSchema>;

export class TokenError extends Error {
	constructor(
		readonly code: 'token_missing' | 'token_expired' | 'token_invalid',
		message: string
	) {
		super(message);
		this.name = 'TokenError';
	}
}

function toTokenError(e: unknown): TokenError {
	if (e instanceof TokenError) return e;
	if (e instanceof errors.JWTExpired)
		return new TokenError(
			'token_expired',
			'The sign-in token has expired. Reload the page to sign in again.'
		);
	return new TokenError(
		'token_invalid',
		'The sign-in token is not valid (bad signature or claims).'
	);
}

/** What a host site does on its server: sign a customer token with the workstream secret. */
export async function signHostToken(
	secret: string,
	claims: { sub: string; name?: string; email?: string },
	opts: { now: number; ttlSeconds?: number }
): Promise<string> {
	const iat = Math.floor(opts.now / 1000);
	return new SignJWT({ name: claims.name, email: claims.email })
		.setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
		.setSubject(claims.sub)
		.setIssuedAt(iat)
		.setExpirationTime(iat + (opts.ttlSeconds ?? 3600))
		.sign(enc.encode(secret));
}

export async function verifyHostToken(
	token: string,
	secret: string,
	now: number
): Promise<HostClaims> {
	if (!token)
		throw new TokenError('token_missing', 'This chat needs you to be signed in on the site.');
	try {
		const { payload } = await jwtVerify(token, enc.encode(secret), {
			algorithms: ['HS256'],
			currentDate: new Date(now),
			requiredClaims: ['sub', 'exp']
		});
		const parsed = HostClaimsSchema.safeParse(payload);
		if (!parsed.success)
			throw new TokenError('token_invalid', 'The sign-in token is missing required claims.');
		return parsed.data;
	} catch (e) {
		throw toTokenError(e);
	}
}

const SESSION_AUDIENCE = 'parley:widget';

export interface WidgetSessionClaims {
	customerId: string;
	workstreamId: string;
}

export async function signWidgetSession(
	key: Uint8Array,
	claims: WidgetSessionClaims,
	opts: { now: number; ttlMs: number }
): Promise<string> {
	const iat = Math.floor(opts.now / 1000);
	return new SignJWT({ ws: claims.workstreamId })
		.setProtectedHeader({ alg: 'HS256' })
		.setSubject(claims.customerId)
		.setAudience(SESSION_AUDIENCE)
		.setIssuedAt(iat)
		.setExpirationTime(iat + Math.floor(opts.ttlMs / 1000))
		.sign(key);
}

export async function verifyWidgetSession(
	token: string,
	key: Uint8Array,
	now: number
): Promise<WidgetSessionClaims> {
	if (!token) throw new TokenError('token_missing', 'No widget session.');
	try {
		const { payload } = await jwtVerify(token, key, {
			algorithms: ['HS256'],
			audience: SESSION_AUDIENCE,
			currentDate: new Date(now)
		});
		if (typeof payload.sub !== 'string' || typeof payload.ws !== 'string')
			throw new TokenError('token_invalid', 'Malformed widget session.');
		return { customerId: payload.sub, workstreamId: payload.ws };
	} catch (e) {
		throw toTokenError(e);
	}
}

const CSAT_AUDIENCE = 'parley:csat';

/** The token in an emailed CSAT link (SPEC C8): answers one conversation's survey, nothing else. */
export async function signCsatToken(
	key: Uint8Array,
	conversationId: string,
	opts: { now: number; ttlMs: number }
): Promise<string> {
	const iat = Math.floor(opts.now / 1000);
	return new SignJWT({})
		.setProtectedHeader({ alg: 'HS256' })
		.setSubject(conversationId)
		.setAudience(CSAT_AUDIENCE)
		.setIssuedAt(iat)
		.setExpirationTime(iat + Math.floor(opts.ttlMs / 1000))
		.sign(key);
}

/** The conversation a CSAT link is for; a TokenError when it is forged or expired. */
export async function verifyCsatToken(token: string, key: Uint8Array, now: number) {
	if (!token) throw new TokenError('token_missing', 'This survey link is incomplete.');
	try {
		const { payload } = await jwtVerify(token, key, {
			algorithms: ['HS256'],
			audience: CSAT_AUDIENCE,
			currentDate: new Date(now)
		});
		if (typeof payload.sub !== 'string') throw new TokenError('token_invalid', 'Malformed link.');
		return { conversationId: payload.sub };
	} catch (e) {
		if (e instanceof errors.JWTExpired)
			throw new TokenError('token_expired', 'This survey link has expired.');
		if (e instanceof TokenError) throw e;
		throw new TokenError('token_invalid', 'This survey link is not valid.');
	}
}
